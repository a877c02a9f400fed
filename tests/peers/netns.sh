#!/bin/sh
# Runs "$@" inside the private network namespace it is started in (`unshare -n netns.sh CMD`):
# loopback plus a veth pair standing in for the camera LAN (10.203.0.1 box, 10.203.0.2 camera).
# Nothing in it can reach, or be reached from, any network outside.
set -e
ip link set lo up
ip link set lo multicast on
ip link add camlan0 type veth peer name camlan1
ip addr add 10.203.0.1/24 dev camlan0
ip addr add 10.203.0.2/24 dev camlan1
ip link set camlan0 multicast on up
ip link set camlan1 multicast on up
# WS-Discovery's multicast stays on the namespace's camera LAN.
ip route add 224.0.0.0/4 dev camlan1
exec "$@"
