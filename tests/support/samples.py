"""The template matcher of the API samples (doc/api_samples).

A template is a sample with placeholders: ``%(kind)s`` matches any value
of that kind, ``%(kind:label)s`` a value bound to ``label`` where it first
matches (later occurrences must be the same value; requests and paths get
it substituted).  ``compare_json`` and ``compare_xml`` list the
differences between a template and a response body; ``Bindings`` holds
what the labels were bound to.  tests/functional/test_api_samples.py
documents the syntax in full.
"""

import io
import json
import re
from xml.etree import ElementTree

from defusedxml import ElementTree as SafeElementTree


_UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
#: kind -> (pattern, type of an unquoted JSON value)
KINDS = {
    'id': ('[1-9][0-9]{0,18}', int),
    'int': ('-?[0-9]{1,19}', int),
    'uuid': (_UUID, None),
    'timestamp': (r'[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}'
                  r'\.[0-9]{6}', None),
    'request_id': ('req-' + _UUID, None),
    # An ETag header, quotes included: "<version>-<representation>".
    'etag': ('"[0-9a-f]{1,19}-[a-z]"', None),
    'text': ('.*', None),
}
PLACEHOLDER = re.compile(
    r'%\((?P<kind>[a-z_]+)(?::(?P<label>[A-Za-z0-9_.-]+))?\)s')


class TemplateError(Exception):
    """The sample itself is wrong (unknown kind, unbound label, ...)."""


class Bare:
    """An unquoted placeholder in a JSON template: a whole value."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


class Bindings:
    """Values bound to (kind, label) while the scenario runs."""

    def __init__(self):
        self.values = {}

    def substitute(self, text):
        """Fill the labelled placeholders of a request or path."""
        def fill(match):
            key = (match.group('kind'), match.group('label'))
            if key[1] is None:
                raise TemplateError('%s in a request must carry a label'
                                    % match.group(0))
            if key not in self.values:
                raise TemplateError('%s is used before it is bound'
                                    % match.group(0))
            return str(self.values[key])
        return PLACEHOLDER.sub(fill, text)

    def _pattern(self, template):
        parts, groups, pos = [], {}, 0
        for match in PLACEHOLDER.finditer(template):
            parts.append(re.escape(template[pos:match.start()]))
            pos = match.end()
            key = (match.group('kind'), match.group('label'))
            if key[0] not in KINDS:
                raise TemplateError('unknown placeholder kind in %s'
                                    % match.group(0))
            if key[1] is None:
                parts.append('(?:%s)' % KINDS[key[0]][0])
            elif key in self.values:
                parts.append(re.escape(str(self.values[key])))
            elif key in groups:
                parts.append('(?P=%s)' % groups[key])
            else:
                groups[key] = 'g%d' % len(groups)
                parts.append('(?P<%s>%s)' % (groups[key], KINDS[key[0]][0]))
        parts.append(re.escape(template[pos:]))
        return re.compile(''.join(parts), re.DOTALL), groups

    def match(self, template, actual):
        """Does the string ``actual`` match ``template``?  Binds labels."""
        regex, groups = self._pattern(template)
        found = regex.fullmatch(actual)
        if found is None:
            return False
        for (kind, label), group in groups.items():
            value = found.group(group)
            self.values[kind, label] = int(value) \
                if KINDS[kind][1] is int else value
        return True

    def match_bare(self, bare, actual):
        """An unquoted placeholder: a whole non-string JSON value."""
        match = PLACEHOLDER.fullmatch(bare.text)
        kind = match.group('kind')
        if kind not in KINDS or KINDS[kind][1] is None:
            raise TemplateError('%s must be quoted' % bare.text)
        if type(actual) is not KINDS[kind][1]:
            return False
        return self.match(bare.text, str(actual))


def parse_json_template(text):
    """JSON with placeholders: unquoted ones become ``Bare`` values."""
    marker = '\x00bare:'
    pieces, bare, in_string, i = [], [], False, 0
    while i < len(text):
        char = text[i]
        if in_string:
            if char == '\\':
                pieces.append(text[i:i + 2])
                i += 2
                continue
            in_string = char != '"'
        elif char == '"':
            in_string = True
        else:
            match = PLACEHOLDER.match(text, i)
            if match:
                pieces.append(json.dumps('%s%d' % (marker, len(bare))))
                bare.append(match.group(0))
                i = match.end()
                continue
        pieces.append(char)
        i += 1

    def restore(value):
        if isinstance(value, str) and value.startswith(marker):
            return Bare(bare[int(value[len(marker):])])
        if isinstance(value, dict):
            return {k: restore(v) for k, v in value.items()}
        if isinstance(value, list):
            return [restore(v) for v in value]
        return value
    return restore(json.loads(''.join(pieces)))


def compare_json(template, actual, bindings, where='body'):
    """Differences between a JSON template and a decoded body."""
    if isinstance(template, Bare):
        if bindings.match_bare(template, actual):
            return []
        return ['%s: %r does not match %s' % (where, actual, template.text)]
    if isinstance(template, dict):
        if not isinstance(actual, dict):
            return ['%s: expected an object, got %r' % (where, actual)]
        errors = []
        missing = sorted(set(template) - set(actual))
        extra = sorted(set(actual) - set(template))
        if missing:
            errors.append('%s: missing keys %s' % (where, missing))
        if extra:
            errors.append('%s: unexpected keys %s' % (where, extra))
        for key in template:
            if key in actual:
                errors.extend(compare_json(template[key], actual[key],
                                           bindings, '%s.%s' % (where, key)))
        return errors
    if isinstance(template, list):
        if not isinstance(actual, list):
            return ['%s: expected a list, got %r' % (where, actual)]
        if len(template) != len(actual):
            return ['%s: expected %d items, got %d: %r' % (
                where, len(template), len(actual), actual)]
        errors = []
        for number, (item, real) in enumerate(zip(template, actual)):
            errors.extend(compare_json(item, real, bindings,
                                       '%s[%d]' % (where, number)))
        return errors
    if isinstance(template, str) and PLACEHOLDER.search(template):
        if isinstance(actual, str) and bindings.match(template, actual):
            return []
        return ['%s: %r does not match %r' % (where, actual, template)]
    if type(template) is not type(actual) or template != actual:
        return ['%s: expected %r, got %r' % (where, template, actual)]
    return []


def _namespace_declarations(data, iterparse):
    """The (prefix, uri) pairs a document declares, sorted."""
    return sorted(ns for _, ns in iterparse(io.BytesIO(data),
                                            events=('start-ns',)))


def _xml_text(value):
    return (value or '').strip()


def compare_string(template, actual, bindings, where):
    """A header value, XML attribute or XML text against its template."""
    if PLACEHOLDER.search(template):
        ok = bindings.match(template, actual)
    else:
        ok = template == actual
    if ok:
        return []
    return ['%s: %r does not match %r' % (where, actual, template)]


def compare_xml_elements(template, actual, bindings, where):
    if template.tag != actual.tag:
        return ['%s: expected <%s>, got <%s>' % (where, template.tag,
                                                 actual.tag)]
    where = '%s/%s' % (where, template.tag.rsplit('}', 1)[-1])
    errors = []
    if set(template.attrib) != set(actual.attrib):
        errors.append('%s: attributes %s, expected %s' % (
            where, sorted(actual.attrib), sorted(template.attrib)))
    for key, value in template.attrib.items():
        if key in actual.attrib:
            errors.extend(compare_string(
                value, actual.attrib[key], bindings, '%s@%s' % (where, key)))
    errors.extend(compare_string(_xml_text(template.text),
                                 _xml_text(actual.text), bindings,
                                 where + ' text'))
    children, real_children = list(template), list(actual)
    if len(children) != len(real_children):
        errors.append('%s: expected children %s, got %s' % (
            where, [c.tag for c in children], [c.tag for c in real_children]))
        return errors
    for child, real in zip(children, real_children):
        errors.extend(compare_xml_elements(child, real, bindings, where))
    return errors


def compare_xml(template_text, actual_bytes, bindings):
    try:
        actual = SafeElementTree.fromstring(actual_bytes, forbid_dtd=True)
    except Exception as exc:  # noqa: B902 - any parse failure is a finding
        return ['body: not XML (%s): %r' % (exc, actual_bytes[:200])]
    template = ElementTree.fromstring(template_text.encode('utf-8'))
    errors = []
    expected_ns = _namespace_declarations(template_text.encode('utf-8'),
                                          ElementTree.iterparse)
    actual_ns = _namespace_declarations(actual_bytes,
                                        SafeElementTree.iterparse)
    if expected_ns != actual_ns:
        errors.append('body: namespace declarations %s, expected %s' % (
            actual_ns, expected_ns))
    return errors + compare_xml_elements(template, actual, bindings, '')
