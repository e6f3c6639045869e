"""tradewind's version, importable without the authoring API."""

__version__ = "0.1.0"
