"""``acd import-callcenter callcenter.conf.xml > acd.yaml``: mod_callcenter's config as acd's
(acd/callcenter_import.py). The YAML goes to stdout; what could not be mapped, one line each
with the reason, to stderr. Exit 0 when the file was converted (notes or not), 1 when it is no
callcenter.conf.xml acd can read.
"""

import argparse
import sys


def add_import_parser(sub):
    p = sub.add_parser(
        "import-callcenter", help="convert mod_callcenter's callcenter.conf.xml to acd.yaml",
        description="Read FreeSWITCH mod_callcenter's callcenter.conf.xml and print the "
        "equivalent acd.yaml (agents, queues, tiers) on stdout. Every parameter with the same "
        "meaning is mapped by name; what cannot be mapped is listed on stderr, one line each "
        "with the reason. The result passes 'acd check-config' once freeswitch, redis and http "
        "are added.")
    p.add_argument("file", metavar="FILE", help="callcenter.conf.xml")
    p.add_argument("--var", action="append", default=[], type=_variable, metavar="NAME=VALUE",
                   help="a FreeSWITCH pre-processor variable ($${NAME}, from vars.xml) used in "
                   "the file, e.g. --var hold_music=local_stream://moh (repeatable)")
    p.set_defaults(func=run_import)


def _variable(text):
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def run_import(args, stdout=None, stderr=None):
    from acd.callcenter_import import CallcenterError, Notes, convert, read_callcenter, to_yaml

    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    try:
        configuration = read_callcenter(args.file)
    except CallcenterError as exc:
        print(f"acd import-callcenter: {exc}", file=stderr)
        return 1
    notes = Notes(args.file)
    document = convert(configuration, notes, dict(args.var))
    stdout.write(to_yaml(document, args.file))
    for line in notes.lines:
        print(line, file=stderr)
    counts = (len(document["agents"]), len(document["queues"]),
              sum(len(q["tiers"]) for q in document["queues"]), len(notes.lines))
    print("acd import-callcenter: {} agent(s), {} queue(s), {} tier(s); {} note(s) above"
          .format(*counts), file=stderr)
    return 0
