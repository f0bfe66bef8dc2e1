"""Standard .seq modules, imported as `import "std/NAME"`."""
