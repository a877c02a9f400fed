"""What a Raspberry Pi tells about itself through sysfs and procfs; None where a machine has none.

Every function takes the file system root as `root`, so tests read fixture trees laid out as a
Pi 4 and a Pi 5 have them (an emulated arm64 Debian has none of these files).
"""

from pathlib import Path

ROOT = Path("/")

# The firmware's throttle word: /sys/devices/platform/soc/soc:firmware/get_throttled on a Pi 4;
# on a Pi 5 the node is named after its address (soc@107c000000), so look the name up.
THROTTLED_GLOB = "sys/devices/platform/soc*/soc*:firmware/get_throttled"
# Under-voltage alone, from the firmware's hwmon device, for kernels without get_throttled.
HWMON_GLOB = "sys/class/hwmon/hwmon*"
# Flags of the throttle word (the bits `vcgencmd get_throttled` prints), the same on a Pi 4 and 5.
FLAGS = {
    "under_voltage": 0x1,
    "freq_capped": 0x2,
    "throttled": 0x4,
    "soft_temp_limit": 0x8,
    "under_voltage_since_boot": 0x10000,
    "throttled_since_boot": 0x40000,
}
SD_CARD_PREFIX = "/dev/mmcblk"  # the SD slot (and eMMC on a Compute Module)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip().strip("\0")
    except OSError:
        return None


def model(root: Path = ROOT) -> str | None:
    """ "Raspberry Pi 4 Model B Rev 1.5"; None on a machine without a device tree."""
    return _read(root / "proc/device-tree/model")


def cpu_temp_millic(root: Path = ROOT) -> int | None:
    temp = _read(root / "sys/class/thermal/thermal_zone0/temp")
    return int(temp) if temp and temp.lstrip("-").isdigit() else None


def throttled_raw(root: Path = ROOT) -> str | None:
    for path in sorted(root.glob(THROTTLED_GLOB)):
        text = _read(path)
        if text:
            return text
    return None


def hwmon_under_voltage(root: Path = ROOT) -> bool | None:
    for hwmon in sorted(root.glob(HWMON_GLOB)):
        if _read(hwmon / "name") == "rpi_volt":
            alarm = _read(hwmon / "in0_lcrit_alarm")
            return None if alarm is None else alarm == "1"
    return None


def health(root: Path = ROOT) -> dict:
    """Temperature and the throttle flags, as the heartbeat sends them."""
    raw = throttled_raw(root)
    try:
        word = int(raw, 16) if raw else None
    except ValueError:
        word = None
    out: dict = {"cpu_temp_millic": cpu_temp_millic(root), "throttled_raw": raw}
    out |= {name: None if word is None else bool(word & bit) for name, bit in FLAGS.items()}
    if word is None:
        out["under_voltage"] = hwmon_under_voltage(root)
    return out


def mount_of(path: Path, mounts: str) -> tuple[str, str] | None:
    """(device, file system type) of the mount `path` lives on, from /proc/mounts' text: the
    longest mount point that holds it."""
    best, found = -1, None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = Path(fields[1].replace("\\040", " "))
        if (path == point or point in path.parents) and len(point.parts) > best:
            best, found = len(point.parts), (fields[0], fields[2])
    return found


def block_device(path: Path, root: Path = ROOT) -> str | None:
    """The device mounted where `path` lives ("/dev/mmcblk0p2"), from `root`/proc/mounts."""
    mounts = _read(root / "proc/mounts")
    found = mount_of(path, mounts) if mounts is not None else None
    return found[0] if found else None


def on_sd_card(path: Path, root: Path = ROOT) -> bool | None:
    """Whether `path` is on the SD card (True) or a data disk (False); None if not a device."""
    device = block_device(path, root)
    if device is None or not device.startswith("/dev/"):
        return None
    return device.startswith(SD_CARD_PREFIX)
