"""Zoom's names and limits, in one place."""

PLATFORM = "zoom"
SIGNATURE_HEADER = "x-zm-signature"
TIMESTAMP_HEADER = "x-zm-request-timestamp"
SIGNATURE_VERSION = "v0"
MAX_CLOCK_SKEW_SECONDS = 300
MAX_WEBHOOK_BYTES = 256 * 1024
MAX_MEETING_ID_CHARS = 64  # the widths the store keeps; Zoom's ids are far shorter
MAX_UUID_CHARS = 255
URL_VALIDATION_EVENT = "endpoint.url_validation"
CHAT_MESSAGES_PATH = "/im/chat/messages"
TOKEN_EARLY_SECONDS = 60  # renew a cached token this long before Zoom says it expires
