"""calendar-service: reviewed event data published as ICS feeds, a JSON API and an embed."""

__version__ = "0.1.0"
