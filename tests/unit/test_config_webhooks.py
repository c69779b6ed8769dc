"""Settings of Zipline's webhooks and Discord notifications: Zipline's names, [http_webhook] and [discord] in
config.toml, and every bad value refused at load with a message naming the key (never a 500 later)."""

from __future__ import annotations

import json

import pytest

from zipshort.config import ConfigError, load_settings
from zipshort.services import ziplinehooks

SECRET = "s" * 40
HOOK = "https://discord.com/api/webhooks/1/tok"


def load(tmp_path, env=None, toml=None):
    if toml is not None:
        (tmp_path / "config.toml").write_text(toml)
    return load_settings(environ={"CORE_SECRET": SECRET, **(env or {})}, instance_path=tmp_path)


def test_zipline_names(tmp_path):
    embed = {"title": "{file.name}", "color": "#fff", "imageOrVideo": True}
    settings = load(tmp_path, {
        "HTTP_WEBHOOK_ON_UPLOAD": "https://hooks.example/up", "HTTP_WEBHOOK_ON_SHORTEN": "https://hooks.example/s",
        "DISCORD_WEBHOOK_URL": HOOK, "DISCORD_USERNAME": "Bot", "DISCORD_AVATAR_URL": "https://cdn.example/a.png",
        "DISCORD_ON_UPLOAD_CONTENT": "{file.name}", "DISCORD_ON_UPLOAD_EMBED": json.dumps(embed),
        "DISCORD_ON_UPLOAD_USERNAME": "Up", "DISCORD_ON_UPLOAD_AVATAR_URL": "https://cdn.example/u.png",
        "DISCORD_ON_UPLOAD_WEBHOOK_URL": HOOK + "2", "DISCORD_ON_SHORTEN_CONTENT": "{url.code}",
        "DISCORD_ON_SHORTEN_WEBHOOK_URL": HOOK + "3", "DISCORD_ON_SHORTEN_USERNAME": "Short",
        "DISCORD_ON_SHORTEN_AVATAR_URL": "https://cdn.example/s.png", "DISCORD_ON_SHORTEN_EMBED": "{}"})
    assert settings.http_webhook.on_upload == "https://hooks.example/up"
    assert settings.http_webhook.on_shorten == "https://hooks.example/s"
    d = settings.discord
    assert (d.webhook_url, d.username, d.avatar_url) == (HOOK, "Bot", "https://cdn.example/a.png")
    upload = ziplinehooks.discord_block(settings, "upload")
    assert upload == {"webhook_url": HOOK + "2", "content": "{file.name}", "username": "Up",
                      "avatar_url": "https://cdn.example/u.png",
                      "embed": {"title": "{file.name}", "description": None, "footer": None, "color": "#fff",
                                "thumbnail": False, "imageOrVideo": True, "timestamp": False, "url": False}}
    shorten = ziplinehooks.discord_block(settings, "shorten")
    assert (shorten["webhook_url"], shorten["username"], shorten["avatar_url"]) == \
        (HOOK + "3", "Short", "https://cdn.example/s.png")
    assert len(ziplinehooks.wanted_events(settings)) == 2


def test_file_variant_keeps_the_secret_url_out_of_the_environment(tmp_path):
    (tmp_path / "hook").write_text(HOOK + "\n")
    settings = load(tmp_path, {"DISCORD_WEBHOOK_URL_FILE": str(tmp_path / "hook"), "DISCORD_ON_SHORTEN_CONTENT": "x"})
    assert settings.discord.webhook_url == HOOK
    assert ziplinehooks.discord_block(settings, "shorten")["webhook_url"] == HOOK
    assert ziplinehooks.discord_block(settings, "upload") is None  # only events that say something are sent
    no_embed = load(tmp_path / "n", {"DISCORD_WEBHOOK_URL": HOOK, "DISCORD_ON_UPLOAD_EMBED": "null",
                                     "DISCORD_ON_UPLOAD_CONTENT": "x"})
    assert ziplinehooks.discord_block(no_embed, "upload")["embed"] is None  # Zipline's "null"


def test_toml_sections(tmp_path):
    toml = ('[http_webhook]\non_upload = "http://10.0.0.5/hook"\n'
            '[discord]\nwebhook_url = "%s"\non_upload_embed = \'{"title": "{file.name}"}\'\n' % HOOK)
    settings = load(tmp_path, toml=toml)
    assert settings.http_webhook.on_upload == "http://10.0.0.5/hook"  # private targets: refused when sent
    assert ziplinehooks.discord_block(settings, "upload")["embed"]["title"] == "{file.name}"
    assert ziplinehooks.discord_block(settings, "upload")["username"] == "zipshort"


@pytest.mark.parametrize("env,message", [
    ({"HTTP_WEBHOOK_ON_UPLOAD": "ftp://x.example/"}, "http_webhook.on_upload"),
    ({"HTTP_WEBHOOK_ON_SHORTEN": "not a url"}, "http_webhook.on_shorten"),
    ({"HTTP_WEBHOOK_ON_UPLOAD": "https://user:pw@x.example/"}, "no user name or password"),
    ({"HTTP_WEBHOOK_ON_UPLOAD": "https://x.example:99999/"}, "http_webhook.on_upload"),
    ({"DISCORD_WEBHOOK_URL": "discord.com/api/webhooks/1/x"}, "discord.webhook_url"),
    ({"DISCORD_AVATAR_URL": "javascript:alert(1)"}, "discord.avatar_url"),
    ({"DISCORD_USERNAME": "x" * 81}, "discord.username"),
    ({"DISCORD_WEBHOOK_URL": HOOK, "DISCORD_ON_UPLOAD_EMBED": "{title: 1}"}, "not valid JSON"),
    ({"DISCORD_WEBHOOK_URL": HOOK, "DISCORD_ON_UPLOAD_EMBED": "[1]"}, "a JSON object"),
    ({"DISCORD_WEBHOOK_URL": HOOK, "DISCORD_ON_UPLOAD_EMBED": '{"titel": "x"}'}, "unknown key 'titel'"),
    ({"DISCORD_WEBHOOK_URL": HOOK, "DISCORD_ON_UPLOAD_EMBED": '{"title": 5}'}, "title must be a string"),
    ({"DISCORD_WEBHOOK_URL": HOOK, "DISCORD_ON_UPLOAD_EMBED": '{"color": "red"}'}, "hex colour"),
    ({"DISCORD_WEBHOOK_URL": HOOK, "DISCORD_ON_UPLOAD_EMBED": '{"thumbnail": "yes"}'}, "thumbnail must be true"),
    ({"DISCORD_ON_UPLOAD_CONTENT": "{file.name}"}, "needs a webhook URL"),
    ({"DISCORD_WEBHOOK_URL": HOOK, "DISCORD_ON_SHORTEN_USERNAME": "x"}, "needs on_shorten_content or"),
    ({"DISCORD_WEBHOOK_URL": HOOK, "DISCORD_ON_UPLOAD_CONTENT": "x" * 4001}, "at most 4000"),
])
def test_bad_settings_are_refused_at_load(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as caught:
        load(tmp_path, env)
    assert "tok" not in str(caught.value) or "webhook_url" not in message  # a URL is never echoed
    assert "pw@" not in str(caught.value)
