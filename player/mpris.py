"""MPRIS2 on the session bus: desktops, media keys and `playerctl` control the engine.

The object is a QDBusVirtualObject that answers every message itself, including
org.freedesktop.DBus.Properties, because the types must be exact: a QDBusAbstractAdaptor
turns a small Python int in a map into an int32, and `playerctl`'s
`{{duration(mpris:length)}}` then prints nothing. PySide6's `QDBusArgument <<` cannot
write an int64 either (a Python int picks the uint16 overload), so int64 values are
written by Qt's own exported `QDBusArgument::operator<<(qlonglong)` through ctypes;
everything else goes through PySide's ordinary conversions, which are right for str,
bool, float, string lists and QDBusObjectPath.

Without a session bus (a server, a CI job) `MprisService.start()` returns None and the
player runs without it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shiboken6
from PySide6 import QtDBus
from PySide6.QtCore import QMetaType, QObject, Signal
from PySide6.QtDBus import (
    QDBusArgument,
    QDBusConnection,
    QDBusMessage,
    QDBusObjectPath,
    QDBusVariant,
    QDBusVirtualObject,
)

from player.playback import PlaybackEngine
from player.queue import PlayableTrack

log = logging.getLogger(__name__)

SERVICE = "org.mpris.MediaPlayer2.timbre"
PATH = "/org/mpris/MediaPlayer2"
ROOT_IFACE = "org.mpris.MediaPlayer2"
PLAYER_IFACE = "org.mpris.MediaPlayer2.Player"
PROPS_IFACE = "org.freedesktop.DBus.Properties"
INTROSPECT_IFACE = "org.freedesktop.DBus.Introspectable"
NO_TRACK = "/org/mpris/MediaPlayer2/TrackList/NoTrack"
TRACK_PATH = "/org/timbre/track/{}"
LOOP_BY_REPEAT = {"off": "None", "track": "Track", "queue": "Playlist"}
REPEAT_BY_LOOP = {v: k for k, v in LOOP_BY_REPEAT.items()}
MIME_TYPES = ["audio/flac", "audio/mpeg", "audio/ogg", "audio/opus", "audio/mp4",
              "audio/x-wav", "audio/aiff"]
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


@dataclass(frozen=True, slots=True)
class Int64:
    """A value that must go out as a D-Bus int64 ('x')."""

    value: int


@dataclass(frozen=True, slots=True)
class ObjectPath:
    """A value that must go out as a D-Bus object path ('o')."""

    value: str


class _Int64Writer:
    """Calls Qt's QDBusArgument::operator<<(qlonglong), which PySide6 does not reach."""

    def __init__(self) -> None:
        lib = ctypes.CDLL(os.path.join(os.path.dirname(QtDBus.__file__), "Qt", "lib",
                                       "libQt6DBus.so.6"))
        self._write = lib._ZN13QDBusArgumentlsEx  # QDBusArgument::operator<<(qlonglong)
        self._write.argtypes = [ctypes.c_void_p, ctypes.c_longlong]
        self._write.restype = ctypes.c_void_p

    def argument(self, value: int) -> QDBusArgument:
        """Return a QDBusArgument holding exactly one int64."""
        arg = QDBusArgument()
        self._write(shiboken6.getCppPointer(arg)[0], int(value))
        return arg


_int64: _Int64Writer | None = None


def to_dbus(value: object) -> Any:
    """Convert our plain values (Int64, ObjectPath, dicts, lists) to what QtDBus marshals."""
    global _int64
    if isinstance(value, Int64):
        if _int64 is None:
            _int64 = _Int64Writer()
        return _int64.argument(value.value)
    if isinstance(value, ObjectPath):
        return QDBusObjectPath(value.value)
    if isinstance(value, dict):
        return {k: to_dbus(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if not value or not all(isinstance(v, str) for v in value):
            raise TypeError("only non-empty string lists are sent (as 'as')")
        return list(value)
    return value


def clean_text(text: str | None) -> str:
    """Return tag text safe to send: control and bidi-override characters removed."""
    if not text:
        return ""
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates out
    return _CONTROL.sub("", text).strip()


def track_metadata(track: PlayableTrack | None, duration_ms: int = 0) -> dict[str, object]:
    """Return the MPRIS Metadata map of a track (only the trackid when there is none)."""
    if track is None:
        return {"mpris:trackid": ObjectPath(NO_TRACK)}
    meta: dict[str, object] = {"mpris:trackid": ObjectPath(TRACK_PATH.format(int(track.id)))}
    length_ms = duration_ms or int((track.duration_s or 0) * 1000)
    if length_ms > 0:
        meta["mpris:length"] = Int64(length_ms * 1000)
    meta["xesam:title"] = clean_text(track.title) or clean_text(Path(track.path).stem)
    artists = [a for a in (clean_text(a) for a in track.artists) if a]
    if artists:
        meta["xesam:artist"] = artists
    if track.album:
        meta["xesam:album"] = clean_text(track.album)
    if track.albumartist:
        meta["xesam:albumArtist"] = [clean_text(track.albumartist)]
    if track.tracknumber:
        meta["xesam:trackNumber"] = int(track.tracknumber)
    try:
        meta["xesam:url"] = Path(os.fsdecode(track.path_bytes)).as_uri()
    except ValueError:
        pass  # a relative path has no URI; nothing to say then
    if track.cover_path and os.path.isfile(track.cover_path):
        meta["mpris:artUrl"] = Path(track.cover_path).absolute().as_uri()
    return meta


_INTROSPECTION = """<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<node>
 <interface name="org.freedesktop.DBus.Introspectable">
  <method name="Introspect"><arg name="xml" type="s" direction="out"/></method>
 </interface>
 <interface name="org.freedesktop.DBus.Properties">
  <method name="Get"><arg type="s" direction="in"/><arg type="s" direction="in"/>
   <arg type="v" direction="out"/></method>
  <method name="GetAll"><arg type="s" direction="in"/><arg type="a{sv}" direction="out"/></method>
  <method name="Set"><arg type="s" direction="in"/><arg type="s" direction="in"/>
   <arg type="v" direction="in"/></method>
  <signal name="PropertiesChanged"><arg type="s"/><arg type="a{sv}"/><arg type="as"/></signal>
 </interface>
 <interface name="org.mpris.MediaPlayer2">
  <method name="Raise"/><method name="Quit"/>
  <property name="CanQuit" type="b" access="read"/>
  <property name="CanRaise" type="b" access="read"/>
  <property name="HasTrackList" type="b" access="read"/>
  <property name="Identity" type="s" access="read"/>
  <property name="DesktopEntry" type="s" access="read"/>
  <property name="SupportedUriSchemes" type="as" access="read"/>
  <property name="SupportedMimeTypes" type="as" access="read"/>
 </interface>
 <interface name="org.mpris.MediaPlayer2.Player">
  <method name="Next"/><method name="Previous"/><method name="Pause"/>
  <method name="PlayPause"/><method name="Stop"/><method name="Play"/>
  <method name="Seek"><arg name="Offset" type="x" direction="in"/></method>
  <method name="SetPosition"><arg name="TrackId" type="o" direction="in"/>
   <arg name="Position" type="x" direction="in"/></method>
  <method name="OpenUri"><arg name="Uri" type="s" direction="in"/></method>
  <signal name="Seeked"><arg name="Position" type="x"/></signal>
  <property name="PlaybackStatus" type="s" access="read"/>
  <property name="LoopStatus" type="s" access="readwrite"/>
  <property name="Rate" type="d" access="readwrite"/>
  <property name="Shuffle" type="b" access="readwrite"/>
  <property name="Metadata" type="a{sv}" access="read"/>
  <property name="Volume" type="d" access="readwrite"/>
  <property name="Position" type="x" access="read"/>
  <property name="MinimumRate" type="d" access="read"/>
  <property name="MaximumRate" type="d" access="read"/>
  <property name="CanGoNext" type="b" access="read"/>
  <property name="CanGoPrevious" type="b" access="read"/>
  <property name="CanPlay" type="b" access="read"/>
  <property name="CanPause" type="b" access="read"/>
  <property name="CanSeek" type="b" access="read"/>
  <property name="CanControl" type="b" access="read"/>
 </interface>
</node>
"""


class _Node(QDBusVirtualObject):
    """The object at /org/mpris/MediaPlayer2; hands every message to the service."""

    def __init__(self, service: MprisService) -> None:
        super().__init__()
        self._service = service

    def introspect(self, path: str) -> str:  # Qt override
        return ""  # handleMessage answers Introspect with the whole document

    def handleMessage(self, message: QDBusMessage, connection: QDBusConnection) -> bool:
        try:
            return self._service.handle(message, connection)
        except Exception:  # a bad message must never take the player down
            log.exception("MPRIS message %s.%s failed", message.interface(), message.member())
            connection.send(message.createErrorReply("org.freedesktop.DBus.Error.Failed",
                                                     "internal error"))
            return True


class MprisService(QObject):
    """Publishes one PlaybackEngine as org.mpris.MediaPlayer2.timbre."""

    quit_requested = Signal()
    raise_requested = Signal()

    def __init__(self, engine: PlaybackEngine, bus: QDBusConnection, *,
                 can_raise: bool = False, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self._bus = bus
        self._can_raise = can_raise
        self._node = _Node(self)
        self._sent: dict[str, object] = {}
        self.name = SERVICE
        engine.state_changed.connect(self._on_engine_changed)
        engine.track_started.connect(self._on_engine_changed)
        engine.queue_changed.connect(self._on_engine_changed)
        engine.volume_changed.connect(self._on_engine_changed)
        engine.modes_changed.connect(self._on_engine_changed)
        engine.duration_changed.connect(self._on_engine_changed)
        engine.seeked.connect(self._on_engine_seeked)

    @classmethod
    def start(cls, engine: PlaybackEngine, *, bus: QDBusConnection | None = None,
              can_raise: bool = False, parent: QObject | None = None) -> MprisService | None:
        """Register on the session bus; return None (and log why) when that is impossible."""
        bus = bus or QDBusConnection.sessionBus()
        if not bus.isConnected():
            log.info("no D-Bus session bus: MPRIS is off (%s)", bus.lastError().message())
            return None
        service = cls(engine, bus, can_raise=can_raise, parent=parent)
        if not bus.registerVirtualObject(PATH, service._node):
            log.warning("cannot register %s on the session bus: MPRIS is off", PATH)
            return None
        name = SERVICE
        if not bus.registerService(name):
            # another Timbre owns the name: take an instance name, as the spec allows
            name = f"{SERVICE}.instance{os.getpid()}"
            if not bus.registerService(name):
                bus.unregisterObject(PATH)
                log.warning("cannot own %s on the session bus: MPRIS is off", SERVICE)
                return None
        service.name = name
        service._sent = service.player_properties()
        return service

    def stop(self) -> None:
        """Leave the bus."""
        self._bus.unregisterService(self.name)
        self._bus.unregisterObject(PATH)

    # -- properties --------------------------------------------------------------------
    def root_properties(self) -> dict[str, object]:
        """Return the org.mpris.MediaPlayer2 properties."""
        return {
            "CanQuit": True, "CanRaise": self._can_raise, "HasTrackList": False,
            "Identity": "Timbre", "DesktopEntry": "timbre",
            "SupportedUriSchemes": ["file"], "SupportedMimeTypes": list(MIME_TYPES),
        }

    def player_properties(self) -> dict[str, object]:
        """Return the org.mpris.MediaPlayer2.Player properties."""
        e = self.engine
        track = e.current_track
        has_queue = bool(e.queue.items)
        return {
            "PlaybackStatus": e.state.capitalize(),
            "LoopStatus": LOOP_BY_REPEAT[e.repeat],
            "Rate": 1.0, "MinimumRate": 1.0, "MaximumRate": 1.0,
            "Shuffle": e.shuffle,
            "Metadata": track_metadata(track, e.duration_ms),
            "Volume": 0.0 if e.muted else e.volume,
            "Position": Int64(e.position_ms * 1000),
            "CanGoNext": e.has_next(), "CanGoPrevious": e.has_previous(),
            "CanPlay": has_queue, "CanPause": track is not None,
            "CanSeek": track is not None, "CanControl": True,
        }

    def _properties(self, interface: str) -> dict[str, object] | None:
        if interface == ROOT_IFACE:
            return self.root_properties()
        if interface == PLAYER_IFACE:
            return self.player_properties()
        return None

    # -- messages --------------------------------------------------------------------
    def handle(self, message: QDBusMessage, connection: QDBusConnection) -> bool:
        """Answer one method call; return False for what this object does not know."""
        iface, member, args = message.interface(), message.member(), message.arguments()
        reply: list[Any] = []
        if iface == INTROSPECT_IFACE and member == "Introspect":
            reply = [_INTROSPECTION]
        elif iface == PROPS_IFACE and member in ("Get", "GetAll", "Set"):
            props = self._properties(str(args[0])) if args else None
            if props is None:
                return self._error(message, connection, "org.freedesktop.DBus.Error.UnknownInterface",
                                   f"no interface {args[0] if args else ''}")
            if member == "GetAll":
                reply = [to_dbus(props)]
            elif member == "Get":
                if len(args) < 2 or args[1] not in props:
                    return self._error(message, connection,
                                       "org.freedesktop.DBus.Error.UnknownProperty",
                                       f"no property {args[1] if len(args) > 1 else ''}")
                reply = [QDBusVariant(to_dbus(props[str(args[1])]))]
            elif not self._set(str(args[1]), args[2]):
                return self._error(message, connection,
                                   "org.freedesktop.DBus.Error.PropertyReadOnly",
                                   f"{args[1]} cannot be set")
        elif iface in (PLAYER_IFACE, "") and self._player_method(member, args):
            pass
        elif iface in (ROOT_IFACE, "") and member in ("Raise", "Quit"):
            (self.raise_requested if member == "Raise" else self.quit_requested).emit()
        else:
            return self._error(message, connection, "org.freedesktop.DBus.Error.UnknownMethod",
                               f"no method {iface}.{member}")
        answer = message.createReply()
        if reply:
            answer.setArguments(reply)
        connection.send(answer)
        return True

    def _error(self, message: QDBusMessage, connection: QDBusConnection, name: str,
               text: str) -> bool:
        connection.send(message.createErrorReply(name, text))
        return True

    def _player_method(self, member: str, args: list[Any]) -> bool:
        e = self.engine
        simple = {"Play": e.play, "Pause": e.pause, "PlayPause": e.play_pause, "Stop": e.stop,
                  "Next": e.next, "Previous": e.previous}
        if member in simple:
            simple[member]()
        elif member == "Seek" and args:
            target_ms = e.position_ms + int(args[0]) // 1000
            if target_ms >= e.duration_ms > 0:
                e.next()  # the spec: seeking past the end acts as Next
            else:
                e.seek(max(0, target_ms))
        elif member == "SetPosition" and len(args) >= 2:
            track = e.current_track
            path = args[0].path() if isinstance(args[0], QDBusObjectPath) else str(args[0])
            position_ms = int(args[1]) // 1000
            if track and path == TRACK_PATH.format(int(track.id)) and \
                    0 <= position_ms <= max(e.duration_ms, 0):
                e.seek(position_ms)
        elif member == "OpenUri":
            pass  # only library tracks are played; the spec lets a player ignore this
        else:
            return False
        return True

    def _set(self, name: str, value: Any) -> bool:
        if isinstance(value, QDBusVariant):
            value = value.variant()
        e = self.engine
        if name == "Volume":
            volume = max(0.0, min(1.0, float(value)))
            if e.muted and volume > 0:
                e.set_muted(False)
            e.set_volume(volume)
        elif name == "LoopStatus" and str(value) in REPEAT_BY_LOOP:
            e.set_repeat(REPEAT_BY_LOOP[str(value)])
        elif name == "Shuffle":
            e.set_shuffle(bool(value))
        elif name == "Rate":
            pass  # only 1.0 is supported; the spec says to ignore other values
        else:
            return False
        return True

    # -- signals out -------------------------------------------------------------------
    def _on_engine_changed(self, *_: object) -> None:
        now = self.player_properties()
        now.pop("Position")  # clients extrapolate it; changes to it go out as Seeked
        changed = {k: v for k, v in now.items() if self._sent.get(k) != v}
        self._sent.update(now)
        if not changed:
            return
        signal = QDBusMessage.createSignal(PATH, PROPS_IFACE, "PropertiesChanged")
        invalidated = QDBusArgument()
        invalidated.beginArray(QMetaType(QMetaType.Type.QString))
        invalidated.endArray()
        signal.setArguments([PLAYER_IFACE, to_dbus(changed), invalidated])
        self._bus.send(signal)

    def _on_engine_seeked(self, position_ms: int) -> None:
        signal = QDBusMessage.createSignal(PATH, PLAYER_IFACE, "Seeked")
        signal.setArguments([to_dbus(Int64(int(position_ms) * 1000))])
        self._bus.send(signal)
