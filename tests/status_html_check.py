#!/usr/bin/env python3
"""The status page with hostile label values injects no markup.

    status_html_check.py HOSTILE.html BENIGN.html EXPECTED.hex HOSTILE.json BENIGN.json

Both pages are parsed with Python's html.parser. The hostile page (every label value, check name
and reason hostile) must have exactly the elements and attribute names of the benign one (the
same data with plain values): an injected element or attribute changes that sequence. Only the
page's own elements appear, no `on*` attribute, no script. Every hostile value (hex, one a line,
as the page should show it) appears in the page's text. Both JSON forms parse.
"""
import json
import sys
from html.parser import HTMLParser

ALLOWED = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "span", "table", "tr", "th", "td",
           "svg", "path"}


class Structure(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.events = []
        self.text = []
        self.errors = []

    def handle_starttag(self, tag, attrs):
        self.events.append(("start", tag, tuple(sorted(a for a, _ in attrs))))
        if tag not in ALLOWED:
            self.errors.append(f"element <{tag}> is not one the page writes")
        for name, _ in attrs:
            if name.startswith("on"):
                self.errors.append(f"event handler attribute {name} on <{tag}>")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.events.append(("end", tag, ()))

    def handle_endtag(self, tag):
        self.events.append(("end", tag, ()))

    def handle_data(self, data):
        self.text.append(data)

    def handle_comment(self, data):
        self.errors.append(f"comment in the page: {data[:40]!r}")

    def handle_pi(self, data):
        self.errors.append(f"processing instruction: {data[:40]!r}")


def parse(path):
    p = Structure()
    with open(path, encoding="utf-8") as f:  # strict: the page must be valid UTF-8
        p.feed(f.read())
    p.close()
    return p


def main(hostile_html, benign_html, expected_hex, hostile_json, benign_json):
    hostile, benign = parse(hostile_html), parse(benign_html)
    errors = hostile.errors + benign.errors
    if hostile.events != benign.events:
        for i, (a, b) in enumerate(zip(hostile.events, benign.events)):
            if a != b:
                errors.append(f"structure differs at event {i}: hostile {a}, benign {b}")
                break
        else:
            errors.append(f"structure differs in length: {len(hostile.events)} vs {len(benign.events)}")
    text = "".join(hostile.text)
    with open(expected_hex) as f:
        expected = [bytes.fromhex(line.strip()).decode("utf-8") for line in f if line.strip() or line == "\n"]
    for v in expected:
        if v not in text:
            errors.append(f"value {v!r} is not shown as text")
    for path in (hostile_json, benign_json):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if not data.get("routes"):
            errors.append(f"{path}: no routes")
    for e in errors:
        print("status_html_check:", e)
    if not errors:
        print(f"status_html_check: ok ({len(hostile.events)} elements and ends, {len(expected)} hostile values)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))
