"""The configured domain, loaded when a command needs it, with the configuration checked against it.

The configuration (``specialist.config``) imports no domain, so what only the domain knows is
checked here, right after it is loaded: ``daemon.skip_families`` against the domain's goal
families (its ``Families`` capability; a domain without it has nothing to check against).

    cfg = load_config(args)
    domain = load_domain(cfg, args)     # `specialist run`, `bench`, `propose`
"""

from __future__ import annotations

import argparse

from specialist import config, domain as domains


def load_domain(cfg: config.Config, args: argparse.Namespace) -> domains.Domain:
    """The domain ``daemon.domain`` names, once the configuration passes its checks.

    Raises:
        InputError: naming the configuration file (--config) and the field at fault.
    """
    domain = domains.load(cfg.daemon.domain)  # config.load made sure the name is installed
    if isinstance(domain, domains.Families):
        config.check_families(cfg, domain.families, getattr(args, "config", None) or "configuration")
    return domain
