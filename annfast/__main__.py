"""Command line: ``python -m annfast demo`` (and ``paint``, ``playground``, where available)."""

import importlib
import sys

COMMANDS = {
    "demo": ("annfast._demo", "train the tutorial's MNIST network and compare its speed"),
    "paint": ("annfast.paint", "teach a deep net to paint an image from pixel coordinates"),
    "playground": ("annfast.playground", "train small nets on 2-D data in a local web page"),
}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: python -m annfast COMMAND [options]\n\ncommands:")
        for name, (_, text) in COMMANDS.items():
            print(f"  {name:12s}{text}")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
