"""The limits on a request's head: the server's protocol enforces them, the app again."""

MAX_URL_BYTES = 16_384  # above the 10,000-character parameters that get a 422 naming them
MAX_HEADER_BYTES = 32_768  # every header field together; as much as nginx's default buffers hold
