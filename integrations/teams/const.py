"""Microsoft Graph and Entra names and limits, in one place."""

PLATFORM = "teams"
ACTIVITY_PATH = "/v1.0/users/{user_id}/teamwork/sendActivityNotification"
ACTIVITY_TYPE = "systemDefault"
SYSTEM_DEFAULT_TEXT = "systemDefaultText"
PREVIEW_MAX_CHARS = 150
TOKEN_TIMEOUT_SECONDS = 20  # msal is synchronous; a hung token call must not hold a delivery forever
HTTP_TIMEOUT_SECONDS = 10
