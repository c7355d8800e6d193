"""HTTP layer: the FastAPI application, its routes and pages."""
