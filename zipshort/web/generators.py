"""Client configurations for this server and this user: ShareX (.sxcu), iShare (.iscu), Flameshot and shell.

They follow Zipline's generators so its users find the same files, with the
known mistakes left out: the URL variants send ``destination`` and read ``url``, and the scripts
need only bash and curl (plain-text answers instead of jq) and pick a clipboard tool at run time.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class Options:
    """What the person chose on the settings page; empty values mean the server's defaults."""

    format: str = ""
    expiry: str = ""
    max_views: str = ""
    compression: str = ""
    original_name: bool = False
    domain: str = ""

    def headers(self, links: bool = False) -> dict[str, str]:
        """The x-zipline-* headers these options become (links take only max views and domain)."""
        out: dict[str, str] = {}
        if self.format and not links:
            out["x-zipline-format"] = self.format
        if self.expiry and not links:
            out["x-zipline-deletes-at"] = self.expiry
        if self.max_views:
            out["x-zipline-max-views"] = self.max_views
        if self.compression and not links:
            out["x-zipline-image-compression-percent"] = self.compression
        if self.original_name and not links:
            out["x-zipline-original-name"] = "true"
        if self.domain:
            out["x-zipline-domain"] = self.domain
        return out


FILES = {
    "zipshort-file.sxcu": "application/json",
    "zipshort-url.sxcu": "application/json",
    "zipshort-shlink.sxcu": "application/json",
    "zipshort-file.iscu": "application/json",
    "zipshort-flameshot.sh": "text/x-shellscript",
    "zipshort-upload.sh": "text/x-shellscript",
    "zipshort-shorten.sh": "text/x-shellscript",
}


def render(name: str, origin: str, token: str, options: Options) -> str:
    """The text of the generated file ``name`` (one of FILES)."""
    host = origin.split("://", 1)[-1]
    if name == "zipshort-file.sxcu":
        return _json({"Version": "17.0.0", "Name": f"zipshort - {host} - File",
                      "DestinationType": "ImageUploader, TextUploader, FileUploader", "RequestMethod": "POST",
                      "RequestURL": f"{origin}/api/upload", "Headers": {"authorization": token, **options.headers()},
                      "URL": "{json:files[0].url}", "Body": "MultipartFormData", "FileFormName": "file"})
    if name == "zipshort-url.sxcu":
        return _json({"Version": "17.0.0", "Name": f"zipshort - {host} - URL",
                      "DestinationType": "URLShortener, URLSharingService", "RequestMethod": "POST",
                      "RequestURL": f"{origin}/api/user/urls",
                      "Headers": {"authorization": token, **options.headers(links=True)},
                      "URL": "{json:url}", "Body": "JSON", "Data": "{\"destination\":\"{input}\"}"})
    if name == "zipshort-shlink.sxcu":  # Shlink's API, as ShareX configs written for Shlink call it
        return _json({"Version": "17.0.0", "Name": f"zipshort - {host} - Shlink API",
                      "DestinationType": "URLShortener, URLSharingService", "RequestMethod": "POST",
                      "RequestURL": f"{origin}/rest/v3/short-urls", "Headers": {"X-Api-Key": token},
                      "URL": "{json:shortUrl}", "Body": "JSON",
                      "Data": "{\"longUrl\":\"{input}\",\"findIfExists\":true}"})
    if name == "zipshort-file.iscu":
        return _json({"name": f"zipshort - {host}", "requesturl": f"{origin}/api/upload",
                      "headers": {"authorization": token, **options.headers()}, "fileformname": "file",
                      "responseurl": "{{files[0].url}}"})
    if name == "zipshort-upload.sh":
        return _script(origin, token, options, "Upload a file", "FILE", _UPLOAD_BODY)
    if name == "zipshort-flameshot.sh":
        return _script(origin, token, options, "Take a screenshot with Flameshot and upload it", "", _FLAMESHOT_BODY)
    if name == "zipshort-shorten.sh":
        return _script(origin, token, options, "Shorten a link", "URL", _SHORTEN_BODY, links=True)
    raise KeyError(name)


def _json(data: dict) -> str:
    return json.dumps(data, indent=2) + "\n"


def _script(origin: str, token: str, options: Options, what: str, argument: str, body: str,
            links: bool = False) -> str:
    headers = " ".join(f"-H {shlex.quote(f'{k}: {v}')}" for k, v in options.headers(links).items())
    check = f'[ $# -ge 1 ] || {{ echo "usage: $0 {argument}" >&2; exit 2; }}' if argument else ""
    return _HEAD.format(what=what, origin=origin, usage_check=check, server=shlex.quote(origin),
                        token=shlex.quote(token), headers=headers) + body


_HEAD = """#!/usr/bin/env bash
# {what} on {origin} (zipshort). Needs bash and curl; copies the result to the clipboard when
# wl-copy (Wayland), xclip (X11) or pbcopy (macOS) is there, and always prints it.
# This file holds your API token: keep it private.
set -euo pipefail
SERVER={server}
TOKEN={token}
OPTIONS=({headers})
{usage_check}
copy() {{
  if [ -n "${{WAYLAND_DISPLAY:-}}" ] && command -v wl-copy >/dev/null 2>&1; then printf '%s' "$1" | wl-copy
  elif [ -n "${{DISPLAY:-}}" ] && command -v xclip >/dev/null 2>&1; then printf '%s' "$1" | xclip -selection clipboard
  elif command -v pbcopy >/dev/null 2>&1; then printf '%s' "$1" | pbcopy
  fi
  printf '%s\\n' "$1"
}}
# send CURL-ARGS...: print the server's answer; on an error status print the server's own reason (not
# curl --fail's bare "curl: (22)") and the status on stderr, and fail. Network errors: curl says why.
send() {{
  local answer status reason
  answer=$(curl -sS -w '\\n%{{http_code}}' -H "authorization: $TOKEN" -H "x-zipline-no-json: true" \\
    ${{OPTIONS[@]+"${{OPTIONS[@]}}"}} "$@") || exit $?
  status=${{answer##*$'\\n'}}
  answer=${{answer%$'\\n'*}}
  case "$status" in
    2??) printf '%s' "$answer" ;;
    *) reason=$(printf '%s' "$answer" | sed -En 's/.*"error" *: *"(([^"\\\\]|\\\\.)*)".*/\\1/p' | head -n 1)
       printf 'zipshort: %s answered HTTP %s: %s\\n' "$SERVER" "$status" "${{reason:-${{answer:0:500}}}}" >&2
       exit 1 ;;
  esac
}}
"""

_UPLOAD_BODY = """url=$(send -F "file=@$1" "$SERVER/api/upload")
copy "$url"
"""

_FLAMESHOT_BODY = """FLAMESHOT=flameshot
MAC_APP=/Applications/flameshot.app/Contents/MacOS/flameshot
[ -x "$MAC_APP" ] && FLAMESHOT="$MAC_APP"
shot=$(mktemp "${TMPDIR:-/tmp}/zipshort.XXXXXX")
trap 'rm -f "$shot" "$shot.png"' EXIT
"$FLAMESHOT" gui -r > "$shot"
[ -s "$shot" ] || exit 0  # capture cancelled
mv "$shot" "$shot.png"
url=$(send -F "file=@$shot.png;type=image/png" "$SERVER/api/upload")
copy "$url"
"""

_SHORTEN_BODY = """destination=$(printf '%s' "$1" | sed -e 's/\\\\/\\\\\\\\/g' -e 's/"/\\\\"/g')
url=$(send -H "content-type: application/json" --data "{\\"destination\\":\\"$destination\\"}" "$SERVER/api/user/urls")
copy "$url"
"""
