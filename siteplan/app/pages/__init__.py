"""The app's five pages, one module each, each an APIRouter with its own words (``WORDS``)."""
