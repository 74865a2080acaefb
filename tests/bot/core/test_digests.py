"""Keyed digests of emails and display names: HMAC-SHA256 under the data key, over the unsalted digest the previous version kept."""
from __future__ import annotations

from bot.core.digests import digested, email_digest, keyed, name_digest, plain_email_digest
from bot.core.events import ParticipantRef
from tests.conftest import DATA_KEY

# Computed apart from the code, with coreutils and OpenSSL:
#   P=$(printf '%s' 'sam@example.net' | sha256sum | cut -d' ' -f1); printf '%s' "$P" | openssl dgst -sha256 -hmac "$DATA_KEY"
#   N=$(printf '%s' 'name:sam client' | sha256sum | cut -d' ' -f1); printf '%s' "$N" | openssl dgst -sha256 -hmac "$DATA_KEY"
EMAIL_VECTOR = "fd79e92d409188a61786152436a8d732ea7457c1c9b94d301bf173708fc14ca2"
NAME_VECTOR = "fcfe550779a22202d388950926b66996652b622b9a07041137d62a7122932af0"


def test_known_answers_computed_independently():
    assert email_digest(" Sam@Example.NET ", DATA_KEY) == EMAIL_VECTOR
    assert name_digest("Sam   CLIENT", DATA_KEY) == NAME_VECTOR


def test_an_unsalted_digest_of_the_previous_version_re_keys_to_the_same_digest():
    assert keyed(plain_email_digest("sam@example.net"), DATA_KEY) == EMAIL_VECTOR


def test_another_key_gives_another_digest():
    assert email_digest("sam@example.net", "another key") != EMAIL_VECTOR


def test_a_participant_is_kept_by_digests_and_the_name_only_when_asked():
    ref = ParticipantRef(user_id="1", name="Sam Client", email="sam@example.net")
    kept = digested(ref, DATA_KEY, keep_name=False)
    assert (kept.name, kept.email, kept.name_digest, kept.email_hash) == ("", "", NAME_VECTOR, EMAIL_VECTOR)
    assert digested(ref, DATA_KEY, keep_name=True).name == "Sam Client"
    assert digested(ParticipantRef(user_id="2", email="  "), DATA_KEY, keep_name=False).email_hash == ""
