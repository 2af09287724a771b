"""INTERACTION_CREATE payloads as Discord builds them when a user runs a command or clicks.

`command_data` turns a test's ``{"option": value}`` into the typed, resolved option tree of the
*registered* command (ids, subcommand nesting, resolved users/channels/roles/attachments), so the
bot's command tree sees what Discord would send. Users Discord would not let run a command
(missing default_member_permissions, wrong context) are refused with PermissionError.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from tests.fakes.discord_objects import Payload, Permission
from tests.fakes.discord_world import World
from tests.fakes.http import UploadedFile

SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = range(3, 12)

#: What the bot may do in a DM (app_permissions there).
DM_PERMISSIONS = (
    Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.ADD_REACTIONS
)


def check_allowed(world: World, command: Payload, guild_id: int | None, user_id: int) -> None:
    """Raise PermissionError if Discord would not offer `command` to this user here."""
    name = command["name"]
    contexts = command.get("contexts")
    if guild_id is None:
        if command.get("dm_permission") is False or (contexts is not None and 1 not in contexts):
            raise PermissionError(f"/{name} is not available in DMs")
        return
    if contexts is not None and 0 not in contexts:
        raise PermissionError(f"/{name} is not available in guilds")
    required = command.get("default_member_permissions")
    if required is None:
        return
    have = world.permissions(guild_id, user_id)
    if int(required) == 0 or have & int(required) != int(required):
        raise PermissionError(
            f"/{name} needs permissions {required} (default_member_permissions); "
            f"user {user_id} has {have}"
        )


def command_data(
    world: World,
    command: Payload,
    path: Sequence[str],
    options: Mapping[str, Any],
    *,
    guild_id: int | None,
    channel_id: int,
    focused: str | None = None,
) -> Payload:
    """The `data` of an APPLICATION_COMMAND (or AUTOCOMPLETE, with `focused`) interaction."""
    resolved: dict[str, dict[str, Payload]] = {}
    schema: list[Payload] = command.get("options") or []
    chain: list[tuple[Payload, list[Payload]]] = []
    for name in path:
        found = _option(schema, name, command["name"])
        if found.get("type") not in (SUB_COMMAND, SUB_COMMAND_GROUP):
            raise ValueError(f"{name!r} is not a subcommand of /{command['name']}")
        inner: list[Payload] = []
        chain.append(({"name": name, "type": found["type"], "options": inner}, inner))
        schema = found.get("options") or []
    if any(o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in schema):
        names = [o["name"] for o in schema]
        raise ValueError(f"/{command['name']} {' '.join(path)} needs a subcommand: {names}")
    leaf = _leaf_options(world, schema, options, resolved, guild_id, channel_id, focused)
    if focused is None:
        missing = [o["name"] for o in schema if o.get("required") and o["name"] not in options]
        if missing:
            raise ValueError(f"required options missing: {missing}")
    top: list[Payload] = leaf
    for node, inner in reversed(chain):
        inner.extend(top)
        top = [node]
    data: Payload = {
        "id": command["id"],
        "name": command["name"],
        "type": command.get("type", 1),
        "options": top,
    }
    if resolved:
        data["resolved"] = resolved
    if "guild_id" in command:
        data["guild_id"] = command["guild_id"]
    return data


def _option(schema: list[Payload], name: str, command: str) -> Payload:
    for option in schema:
        if option["name"] == name:
            return option
    raise ValueError(f"/{command} has no option {name!r}; it has {[o['name'] for o in schema]}")


def _leaf_options(
    world: World,
    schema: list[Payload],
    options: Mapping[str, Any],
    resolved: dict[str, dict[str, Payload]],
    guild_id: int | None,
    channel_id: int,
    focused: str | None,
) -> list[Payload]:
    result = []
    for name, value in options.items():
        option = _option(schema, name, "command")
        otype = option["type"]
        entry: Payload = {"name": name, "type": otype}
        if name == focused:
            entry |= {"value": str(value), "focused": True}
        else:
            entry["value"] = _value(world, option, value, resolved, guild_id, channel_id)
        result.append(entry)
    return result


def _value(
    world: World,
    option: Payload,
    value: Any,
    resolved: dict[str, dict[str, Payload]],
    guild_id: int | None,
    channel_id: int,
) -> Any:
    otype = option["type"]
    choices = option.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        raise ValueError(f"{value!r} is not a choice of option {option['name']!r}: {choices}")
    if otype == STRING:
        return str(value)
    if otype == INTEGER:
        return int(value)
    if otype == NUMBER:
        return float(value)
    if otype == BOOLEAN:
        return bool(value)
    if otype == ATTACHMENT:
        filename, data = value
        upload = UploadedFile("files[0]", filename, "application/octet-stream", data)
        attachment = world.store_file(channel_id, upload)
        resolved.setdefault("attachments", {})[attachment["id"]] = attachment
        return attachment["id"]
    key = str(int(value))
    if otype in (USER, MENTIONABLE) and int(value) in world.users:
        resolved.setdefault("users", {})[key] = world.user(int(value))
        if guild_id is not None and int(value) in world.guild(guild_id).members:
            member = world.member(guild_id, int(value))
            resolved.setdefault("members", {})[key] = {
                k: v for k, v in member.items() if k != "user"
            }
    elif otype in (ROLE, MENTIONABLE) and guild_id is not None:
        resolved.setdefault("roles", {})[key] = world.guild(guild_id).roles[int(value)]
    elif otype == CHANNEL:
        perms = str(Permission.ALL)
        resolved.setdefault("channels", {})[key] = {
            **world.channel(int(value)),
            "permissions": perms,
        }
    else:
        raise ValueError(f"cannot resolve {value!r} for option {option['name']!r}")
    return key


def interaction(
    world: World,
    itype: int,
    channel_id: int,
    user_id: int,
    data: Payload,
    *,
    message: Payload | None = None,
) -> Payload:
    """A full INTERACTION_CREATE payload from `user_id` in `channel_id`."""
    channel = world.channel(channel_id)
    guild_id = world.guild_id_of(channel_id)
    payload: Payload = {
        "id": str(world.snowflakes.next()),
        "application_id": str(world.bot_id),
        "type": itype,
        "data": data,
        "channel_id": str(channel_id),
        "token": secrets.token_urlsafe(48),
        "version": 1,
        "locale": "en-US",
        "entitlements": [],
        "attachment_size_limit": 10 * 1024 * 1024,
    }
    if guild_id is None:
        payload |= {
            "user": world.user(user_id),
            "channel": {**channel, "permissions": str(DM_PERMISSIONS)},
            "app_permissions": str(DM_PERMISSIONS),
            "context": 1,
            "authorizing_integration_owners": {"0": str(user_id)},
        }
    else:
        member = world.member(guild_id, user_id)
        payload |= {
            "guild_id": str(guild_id),
            "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
            "guild_locale": "en-US",
            "member": member,
            "channel": {**channel, "permissions": member["permissions"]},
            "app_permissions": str(world.permissions(guild_id, world.bot_id)),
            "context": 0,
            "authorizing_integration_owners": {"0": str(guild_id)},
        }
    if message is not None:
        payload["message"] = message
    return payload


def component_data(custom_id: str, component_type: int, values: Sequence[str] | None) -> Payload:
    data: Payload = {"custom_id": custom_id, "component_type": component_type}
    if values is not None:
        data["values"] = list(values)
    return data
