#!/usr/bin/python3
"""A real RTSP camera for tests and benchmarks: Debian's GStreamer RTSP server, synthetic H.264.

Run with Debian's /usr/bin/python3 (the `gi` module exists only there), not the project venv:
    /usr/bin/python3 tests/peers/rtsp_server.py --port 8554 --path /cam [--size 1280x720]
        [--sub-path /sub --sub-size 640x360 --sub-bitrate 400] [--max-sessions 2]
Prints "READY rtsp://127.0.0.1:PORT/PATH" on stdout once it listens; stops on SIGTERM/SIGINT.
`--sub-path` adds a second mount like a camera's substream (same frame rate and keyframe
interval, its own size and bitrate). `--max-sessions` makes it refuse a session beyond that
many (RTSP 503 on SETUP), as cameras limited to 2-4 streams do.
"""

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def pipeline(size: str, fps: int, bitrate_kbps: int, gop: int) -> str:
    width, height = size.split("x")
    return (
        f"( videotestsrc is-live=true pattern=smpte horizontal-speed=4 ! "
        f"video/x-raw,width={width},height={height},framerate={fps}/1 ! timeoverlay ! "
        f"x264enc tune=zerolatency speed-preset=ultrafast bitrate={bitrate_kbps} "
        f"key-int-max={gop} ! video/x-h264,profile=baseline ! "
        f"rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument("--path", default="/cam")
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--bitrate", type=int, default=500, help="kbit/s")
    parser.add_argument("--gop", type=int, default=25, help="frames between keyframes")
    parser.add_argument("--user", default="", help="require RTSP basic auth with --password")
    parser.add_argument("--password", default="")
    parser.add_argument("--sub-path", default="", help="also serve a substream here")
    parser.add_argument("--sub-size", default="640x360")
    parser.add_argument("--sub-bitrate", type=int, default=400, help="kbit/s")
    parser.add_argument("--max-sessions", type=int, default=0, help="0: unlimited")
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    if args.max_sessions:
        server.get_session_pool().set_max_sessions(args.max_sessions)
    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
        server.set_auth(auth)
    mounts = [(args.path, args.size, args.bitrate)]
    if args.sub_path:
        mounts.append((args.sub_path, args.sub_size, args.sub_bitrate))
    for path, size, bitrate in mounts:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(pipeline(size, args.fps, bitrate, args.gop))
        factory.set_shared(True)
        if args.user:
            perms = GstRtspServer.RTSPPermissions()
            perms.add_permission_for_role("user", "media.factory.access", True)
            perms.add_permission_for_role("user", "media.factory.construct", True)
            factory.set_permissions(perms)
        server.get_mount_points().add_factory(path, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        sys.exit(1)
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(f"READY rtsp://127.0.0.1:{args.port}{args.path}", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
