from tests.support.browser import chromium_page  # noqa: F401 - shared fixture
