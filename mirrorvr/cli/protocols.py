"""``mirrorvr protocols``: the built-in protocols, and one of them as TOML to copy and edit."""

from __future__ import annotations

import argparse


def add_commands(subparsers) -> None:
    """Register ``protocols`` (``list``, the default, and ``show NAME``)."""
    p = subparsers.add_parser("protocols", help="list the built-in protocols, or show one",
                              description=__doc__)
    sub = p.add_subparsers(dest="protocols_command")
    show = sub.add_parser("show", help="print a protocol as TOML (to copy and edit)")
    show.add_argument("name", help="a built-in protocol's name or a protocol file")
    show.set_defaults(handler=show_protocol)
    listing = sub.add_parser("list", help="the built-in protocols (the default)")
    listing.set_defaults(handler=list_protocols)
    p.set_defaults(handler=list_protocols)


def list_protocols(args: argparse.Namespace, out=None) -> int:
    """One line per built-in protocol: name, limb, blocks, length at full scale."""
    import sys

    from mirrorvr.session.protocol import builtin_protocols, load_protocol

    out = out or sys.stdout
    rows = []
    for name in builtin_protocols():
        protocol = load_protocol(name)
        kinds = [b.kind for b in protocol.blocks]
        summary = ", ".join(f"{k}" + (f" x{kinds.count(k)}" if kinds.count(k) > 1 else "")
                            for k in dict.fromkeys(kinds))
        rows.append((name, protocol.limb, f"{protocol.nominal_s / 60:.0f} min", summary))
    width = max(len(r[0]) for r in rows)
    print(f"{'protocol':<{width}}  limb   length  blocks", file=out)
    for name, limb, length, summary in rows:
        print(f"{name:<{width}}  {limb:<5}  {length:>6}  {summary}", file=out)
    print("\n'mirrorvr protocols show NAME' prints one as TOML to copy and edit;\n"
          "'mirrorvr session --protocol NAME_OR_FILE' runs one.", file=out)
    return 0


def show_protocol(args: argparse.Namespace, out=None) -> int:
    """The protocol ``args.name`` as TOML, every field written out."""
    import sys

    from mirrorvr.session.protocol import load_protocol, protocol_to_toml

    print(protocol_to_toml(load_protocol(args.name)), end="", file=out or sys.stdout)
    return 0
