def main():
    from importlib.resources import files
    print((files("seqlang.grammar") / "seq.lark").read_text(), (files("seqlang.stdlib") / "schedules.seq").read_text())
