"""Which apprise plugins the private-network guard can cover, from an audit of apprise 2.3.

Every alert send runs inside `tracker.socketguard.guarded_scope()`, which checks each
socket the sending thread opens. That covers a plugin only if all of its connections are
made by Python sockets in that thread. The families below were read plugin by plugin:

- HTTP: every request goes through `requests` (urllib3) in the calling thread.
- SMTP: `smtplib` in the calling thread (and `requests` for key lookups).
- SOCKET: apprise's own socket transport or a plain socket in the calling thread
  (IRC, Nostr relays over websockets, APRS-IS, remote syslog over UDP).

Everything else (a plugin family added by a later apprise, or one listed in `UNGUARDED`)
is refused unless TRACKER_ALLOW_PRIVATE_NETWORKS=true: its connections are made by a
library that runs its own network loop or thread, by C code, or it reaches this machine
itself. An allow-list goes stale safely: a new plugin is refused until it is audited.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from apprise import NotifyBase
from apprise.manager_plugins import NotificationManager

from tracker.netguard import ALLOW_HINT

AUDITED_APPRISE = "2.3.0"

_HTTP_NAMES = """
    acs africas_talking apprise_api awswhatsapp bale bark betterstack bluesky brevo bulksms
    bulkvs burstsms chanify clickatell clicksend cliq cm custom_form custom_json custom_xml
    d7networks dapnet dingtalk discord dot eight00com emby enigma2 evolution exotel fcm
    feishu firehydrant flock flowtriq fluxer fortysixelks freemobile github goalert
    google_chat gorush gotify groundmail groupme guilded gupshup home_assistant httpsms
    humhub ifttt ilert incidentio infobip instagram jellyfin jira join kakaotalk kaleyra
    kavenegar kodi kook kumulos lametric lark lauther lfgalarm line mailersend mailgun
    mastodon matrix mattermost messagebird misskey mobilemessage msg91 nextcloud
    nextcloudtalk notica notifiarr notifico notifyapp notifyre ntfy octopush office365
    one_signal onebot opsgenie opsimate pagerduty pagertree parseplatform pinglet pingram
    plivo postmark prowl pushbullet pushdeer pushed pushjet pushme pushover pushplus
    pushsafer pushward pushy qq reddit resend revolt ringcentral rocketchat ryver sendgrid
    sendpulse serverchan serwersms ses seven sfr signal_api signalgrid signl4 simplepush
    sinch slack smsc smseagle smsmanager smstunnel smtp2go sns sogs sparkpost spike splunk
    spugpush squadcast stackfield streamlabs synology techuluspush telegram telesign telnyx
    threema trigv twilio twist twitter viber voipms vonage webexteams wechat wecombot whapi
    whatsapp workflows wpush wxpusher xmatters youlmk zalo zoom zulip
"""
HTTP = frozenset(_HTTP_NAMES.split())
SMTP = frozenset({"email", "deltachat"})
SOCKET = frozenset({"irc", "nostr", "aprs", "rsyslog"})
GUARDED = HTTP | SMTP | SOCKET

# Families the guard cannot cover, and why (the reason is shown when one is refused).
UNGUARDED: Mapping[str, str] = {
    "dbus": "it shows desktop notifications on this machine",
    "glib": "it shows desktop notifications on this machine",
    "gnome": "it shows desktop notifications on this machine",
    "macosx": "it shows desktop notifications on this machine",
    "windows": "it shows desktop notifications on this machine",
    "syslog": "it writes to this machine's system log",
    "blink1": "it drives a USB device on this machine",
    "mqtt": "paho-mqtt opens its connections outside the guard's reach",
    "xmpp": "slixmpp runs its own network loop in another thread",
    "smpp": "smpplib opens its connections outside the guard's reach",
    "amqp": "pika and qpid-proton open their connections outside the guard's reach",
    "growl": "gntp opens its connections outside the guard's reach",
    "vapid": "it reads and writes key and subscription files on this machine",
}


@dataclass(frozen=True)
class Family:
    name: str
    guarded: str | None  # "HTTP", "SMTP", "SOCKET"; None: refused unless private allowed
    reason: str = ""


def family_name(plugin: type[NotifyBase] | NotifyBase) -> str:
    """`custom_json` for apprise.plugins.custom_json, `email` for apprise.plugins.email.base."""
    cls = plugin if isinstance(plugin, type) else type(plugin)
    module = cls.__module__.removeprefix("apprise.plugins.")
    return module.split(".", 1)[0]


def family(plugin: type[NotifyBase] | NotifyBase) -> Family:
    name = family_name(plugin)
    for label, members in (("HTTP", HTTP), ("SMTP", SMTP), ("SOCKET", SOCKET)):
        if name in members:
            return Family(name, label)
    reason = UNGUARDED.get(name, f"apprise's {name} plugin has not been audited for the guard")
    return Family(name, None, reason)


def unguarded_reason(plugin: NotifyBase, schema: str) -> str | None:
    """Why a plugin cannot go through the guard (one line), or None when it can."""
    found = family(plugin)
    if found.guarded:
        return None
    return (
        f"{schema}:// cannot be checked by the private-network guard ({found.reason}); {ALLOW_HINT}"
    )


def registry() -> Iterator[tuple[str, type[NotifyBase]]]:
    """Every (schema, plugin class) apprise knows, from its own plugin registry."""
    manager = NotificationManager()
    manager.load_modules()
    for schema in sorted(manager.schemas()):
        yield schema, manager[schema]
