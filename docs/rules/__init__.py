"""Rule documentation pages, one `SEQNNN.md` per code, shown by `seqlang rule CODE`."""
