# The recordings admin is split by concept; each module registers its own ModelAdmins.
from . import exports, holds, segments  # noqa: F401
