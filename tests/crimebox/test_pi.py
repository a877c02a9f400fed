"""crimebox/pi.py against the sysfs and procfs layouts of a Pi 4 and a Pi 5 (fixture trees: the
emulated arm64 check of deploy/arm64-check.sh has none of these files)."""

from pathlib import Path

import pytest

from crimebox import pi
from sync import heartbeat

MOUNTS_SD_ONLY = """\
/dev/mmcblk0p2 / ext4 rw,noatime 0 0
devtmpfs /dev devtmpfs rw,relatime,size=1867796k,nr_inodes=466949,mode=755 0 0
proc /proc proc rw,relatime,hidepid=invisible 0 0
/dev/mmcblk0p1 /boot/firmware vfat rw,relatime,fmask=0022,dmask=0022 0 2
tmpfs /run tmpfs rw,nosuid,nodev,size=789112k,nr_inodes=819200,mode=755 0 0
"""
MOUNTS_DATA_DISK = MOUNTS_SD_ONLY + "/dev/sda1 /var/lib/crimebox ext4 rw,noatime 0 2\n"
MOUNTS_NVME = MOUNTS_SD_ONLY + "/dev/nvme0n1p1 /var/lib/crimebox ext4 rw,noatime 0 2\n"


def lay(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def pi4(root: Path, throttled: str = "50005\n", mounts: str = MOUNTS_DATA_DISK) -> Path:
    return lay(
        root,
        {
            "proc/device-tree/model": "Raspberry Pi 4 Model B Rev 1.5\0",
            "proc/mounts": mounts,
            "sys/class/thermal/thermal_zone0/type": "cpu-thermal\n",
            "sys/class/thermal/thermal_zone0/temp": "52108\n",
            "sys/devices/platform/soc/soc:firmware/get_throttled": throttled,
            "sys/class/hwmon/hwmon0/name": "cpu_thermal\n",
            "sys/class/hwmon/hwmon1/name": "rpi_volt\n",
            "sys/class/hwmon/hwmon1/in0_lcrit_alarm": "0\n",
        },
    )


def pi5(root: Path, get_throttled: bool = True, mounts: str = MOUNTS_NVME) -> Path:
    files = {
        "proc/device-tree/model": "Raspberry Pi 5 Model B Rev 1.0\0",
        "proc/mounts": mounts,
        "sys/class/thermal/thermal_zone0/type": "cpu-thermal\n",
        "sys/class/thermal/thermal_zone0/temp": "61250\n",
        "sys/class/hwmon/hwmon0/name": "cpu_thermal\n",
        "sys/class/hwmon/hwmon1/name": "rp1_adc\n",
        "sys/class/hwmon/hwmon2/name": "rpi_volt\n",
        "sys/class/hwmon/hwmon2/in0_lcrit_alarm": "1\n",
    }
    if get_throttled:
        # The Pi 5's soc node carries its address: no soc/soc:firmware as on a Pi 4.
        files["sys/devices/platform/soc@107c000000/soc@107c000000:firmware/get_throttled"] = "0\n"
    return lay(root, files)


def test_pi4_temperature_and_throttle_flags(tmp_path):
    root = pi4(tmp_path)
    assert pi.model(root) == "Raspberry Pi 4 Model B Rev 1.5"
    health = pi.health(root)
    assert health["cpu_temp_millic"] == 52108 and health["throttled_raw"] == "50005"
    assert health["under_voltage"] is True and health["throttled"] is True
    assert health["freq_capped"] is False and health["soft_temp_limit"] is False
    assert health["under_voltage_since_boot"] is True and health["throttled_since_boot"] is True


def test_pi5_throttle_word_is_found_under_its_addressed_soc_node(tmp_path):
    root = pi5(tmp_path)
    assert pi.model(root) == "Raspberry Pi 5 Model B Rev 1.0"
    health = pi.health(root)
    assert health["cpu_temp_millic"] == 61250 and health["throttled_raw"] == "0"
    assert {health[name] for name in pi.FLAGS} == {False}


def test_pi5_without_get_throttled_reports_under_voltage_from_hwmon(tmp_path):
    health = pi.health(pi5(tmp_path, get_throttled=False))
    assert health["throttled_raw"] is None and health["under_voltage"] is True
    assert health["throttled"] is None and health["cpu_temp_millic"] == 61250


def test_an_unreadable_throttle_word_is_none_not_a_crash(tmp_path):
    health = pi.health(pi4(tmp_path, throttled="garbage\n"))
    assert health["throttled_raw"] == "garbage" and health["throttled"] is None
    assert health["under_voltage"] is False  # from the hwmon device instead


@pytest.mark.parametrize(
    "board, mounts, path, expected",
    [
        (pi4, MOUNTS_DATA_DISK, "/var/lib/crimebox/recordings", False),  # USB data disk
        (pi4, MOUNTS_SD_ONLY, "/var/lib/crimebox/recordings", True),  # no data disk
        (pi4, MOUNTS_DATA_DISK, "/var/lib/crimebox-old", True),  # a name prefix is not a mount
        (pi5, MOUNTS_NVME, "/var/lib/crimebox/recordings", False),  # NVMe HAT
        (pi5, MOUNTS_NVME, "/opt/crimebox/data/recordings", True),
        (pi5, "overlay / overlay rw 0 0\n", "/opt/crimebox/data", None),  # not a device
    ],
)
def test_footage_on_the_sd_card_or_a_data_disk(tmp_path, board, mounts, path, expected):
    assert pi.on_sd_card(Path(path), board(tmp_path, mounts=mounts)) is expected


def test_not_a_pi_has_none_of_it(tmp_path):
    assert pi.model(tmp_path) is None and pi.on_sd_card(Path("/x"), tmp_path) is None
    assert set(pi.health(tmp_path).values()) == {None}


@pytest.mark.django_db
def test_heartbeat_carries_the_pi_facts(tmp_path, settings):
    settings.RECORDINGS_DIR = Path("/var/lib/crimebox/recordings")
    facts = heartbeat.pi_health(root=pi5(tmp_path))
    assert facts["model"] == "Raspberry Pi 5 Model B Rev 1.0"
    assert facts["recordings_on_sd_card"] is False and facts["cpu_temp_millic"] == 61250
