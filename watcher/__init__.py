"""watcher: tracks the safety policies AI labs publish and alerts raters when one changes."""

__version__ = "0.1.0"
