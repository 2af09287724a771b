"""`/session export` of a session too large for Discord: refused before it is built, privately."""

from __future__ import annotations

from storage import Role
from tests.bot.discord_app.harness import Harness, text_of

MEBIBYTE_OF_TEXT = "lorem ipsum " * (1024 * 1024 // 12)


async def test_an_export_over_the_upload_limit_points_to_the_cli_and_uploads_nothing(
    h: Harness,
) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    session = await h.session_here(h.general)
    assert session is not None
    for _ in range(11):  # past the 10 MiB a server without boosts may upload
        await h.store.append_message(
            session.id, role=Role.USER, content=MEBIBYTE_OF_TEXT, author_name="Alice", tokens=1
        )
    for options in ({"format": "json"}, {}):
        record = await h.command("session export", options, channel=h.general, user=h.bob)
        assert record.ephemeral
        assert not [m for m in record.messages if m.attachments]
        text = text_of(record)
        assert "larger than Discord lets me upload here" in text
        assert f"sessionbot sessions export {session.id}" in text
