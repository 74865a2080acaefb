"""Microsoft Graph and Entra names and limits, in one place."""

PLATFORM = "teams"
ACTIVITY_PATH = "/v1.0/users/{user_id}/teamwork/sendActivityNotification"
ACTIVITY_TYPE = "systemDefault"
SYSTEM_DEFAULT_TEXT = "systemDefaultText"
PREVIEW_MAX_CHARS = 150
TOKEN_TIMEOUT_SECONDS = 20  # msal is synchronous; a hung token call must not hold a delivery forever
HTTP_TIMEOUT_SECONDS = 10
CALENDAR_VIEW_PATH = "/v1.0/users/{user_id}/calendarView"
# Meeting call events are a beta resource: their subscriptions are made through the beta endpoint.
SUBSCRIPTIONS_PATH = "/beta/subscriptions"
MEETING_EVENTS_RESOURCE = "communications/onlineMeetings(joinWebUrl='{join_url}')/meetingCallEvents"
WEBHOOK_PATH = "/webhooks/teams"
LIFECYCLE_PATH = "/webhooks/teams/lifecycle"
GRAPH_APP_ID = "0bf30f3b-4a52-48df-9a82-234910c4a086"  # the `appid`/`azp` of Graph's notification validation tokens
MAX_ENCRYPTED_CHARS = 512 * 1024
MAX_VALIDATION_TOKEN_CHARS = 1024  # the handshake's token is echoed back: only a short, printable one
MAX_JWT_CHARS = 16 * 1024
MAX_NOTIFICATIONS = 100  # in one delivery
MAX_CLOCK_SKEW_SECONDS = 300
KEYS_REFRESH_SECONDS = 24 * 3600  # refetch the identity platform's keys at least daily
KEYS_MIN_REFETCH_SECONDS = 300  # an unknown `kid` refetches them at most this often
# The calling bot (camera tracking): it joins a meeting's call through Graph, and Graph calls it back.
CALLS_PATH = "/webhooks/teams/calls"  # the Bot registration's calling webhook: {[server] public_url}/webhooks/teams/calls
CALLS_API = "/v1.0/communications/calls"
BOT_TOKEN_ISSUER = "https://api.botframework.com"  # the `iss` of the bearer JWT on each callback
MAX_CALLBACK_BYTES = 512 * 1024  # one callback body; a roster of 500 people fits
MAX_CALL_NOTIFICATIONS = 50  # in one callback
KEEP_ALIVE_MINUTES = 30  # Graph ends a call it has not heard a keepAlive for in 45 minutes
# Due work of the calling bot (rows in the service's due work table, carried out by the bot).
CALL_JOIN = "call_join"
CALL_KEEP_ALIVE = "call_keep_alive"
CALL_HANG_UP = "call_hang_up"
