# The recordings admin is split by concept; each module registers its own ModelAdmins.
from . import export_admin, hold_admin, segment_admin  # noqa: F401
