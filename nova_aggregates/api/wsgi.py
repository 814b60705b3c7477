"""Request parsing and response rendering shared by every handler.

JSON is the format everywhere; the legacy (v1.1/v2) surface also speaks the
2012 XML: request bodies in the generic form (parsed with defusedxml, DTDs
refused so no entity can expand) and responses chosen by ``.xml`` or Accept.
"""

import json
import unicodedata
from xml.etree import ElementTree

import defusedxml
from defusedxml import ElementTree as SafeElementTree
import webob

JSON_TYPES = frozenset(('application/json',
                        'application/vnd.openstack.compute+json',
                        'text/plain', ''))
XML_TYPES = frozenset(('application/xml', 'text/xml',
                       'application/vnd.openstack.compute+xml'))

ENVIRON_CONTEXT = 'nova_aggregates.context'
ENVIRON_VERSION = 'nova_aggregates.api_version'
#: The version the request asked for (ENVIRON_VERSION: the one serving it).
ENVIRON_REQUESTED_VERSION = 'nova_aggregates.requested_api_version'
ENVIRON_FORMAT = 'nova_aggregates.format'


def encode_json(data):
    return json.dumps(data, ensure_ascii=True).encode('ascii')


def json_response(body, status=200, headers=None):
    return encoded_json_response(encode_json(body), status, headers)


def encoded_json_response(encoded, status=200, headers=None):
    """A JSON response of a body encoded already (``encode_json``)."""
    response = webob.Response(status=status, content_type='application/json',
                              charset=None)
    response.body = encoded
    if headers:
        response.headers.update(headers)
    return response


def empty_response(status=200):
    response = webob.Response(status=status, content_type='application/json',
                              charset=None)
    response.body = b''
    return response


def xml_response(body, status=200):
    return webob.Response(body=body, status=status,
                          content_type='application/xml', charset='UTF-8')


class WithHeaders:
    """What a handler returns for a body sent with headers of its own."""

    __slots__ = ('body', 'headers')

    def __init__(self, body, headers):
        self.body = body
        self.headers = headers


def render(req, result):
    """The response for what a handler returned: ``None`` is an empty 200,
    a response goes out as it is, data is JSON, or the 2012 XML when
    ``req.wants_xml``; ``WithHeaders`` adds its headers."""
    if result is None:
        return empty_response()
    if isinstance(result, webob.Response):
        return result
    if isinstance(result, WithHeaders):
        response = render(req, result.body)
        response.headers.update(result.headers)
        return response
    if req.wants_xml:
        (root_name, body), = result.items()
        return xml_response(xml_document(root_name, body))
    return json_response(result)


def wants_xml(req):
    """XML only where the 2012 surface is served and the client asks: a
    ``.xml`` suffix, or an Accept header that names XML and not JSON."""
    fmt = req.environ.get(ENVIRON_FORMAT)
    if fmt is not None:
        return fmt == 'xml'
    # Below the URL map the prefix has moved to SCRIPT_NAME.
    if (req.script_name + req.path_info).startswith('/v2.1'):
        return False
    if req.path_info.endswith(('.xml', '.json')):
        return req.path_info.endswith('.xml')
    return accepts_xml(req)


def accepts_xml(req):
    """The Accept header names XML and not JSON."""
    accept = req.headers.get('Accept', '')
    return 'xml' in accept and 'json' not in accept


# -- XML -------------------------------------------------------------------

def xml_fault(name, status, message, namespace):
    root = ElementTree.Element(name, {'code': str(status),
                                      'xmlns': namespace})
    ElementTree.SubElement(root, 'message').text = message
    return _xml_bytes(root)


def _xml_bytes(root):
    return b"<?xml version='1.0' encoding='UTF-8'?>\n" + \
        ElementTree.tostring(root, encoding='utf-8')


def _valid_xml_name(text):
    if not text or not (text[0].isalpha() or text[0] == '_'):
        return False
    return all(c.isalnum() or c in '._-' for c in text) and ':' not in text


def _xml_value(parent, key, value):
    if isinstance(value, dict):
        node = ElementTree.SubElement(parent, key)
        for k, v in value.items():
            if _valid_xml_name(k):
                _xml_value(node, k, v)
            else:
                # Keys such as "a b" or "x:y" are no XML names.
                item = ElementTree.SubElement(node, 'meta', {'key': k})
                item.text = '' if v is None else str(v)
    elif isinstance(value, list):
        node = ElementTree.SubElement(parent, key)
        child = key[:-1] if key.endswith('s') else 'item'
        for item in value:
            _xml_value(node, child, item)
    else:
        node = ElementTree.SubElement(parent, key)
        node.text = 'None' if value is None else \
            ('True' if value is True else 'False' if value is False
             else str(value))


def xml_document(root_name, body):
    """The 2012 generic serializer: one element per field."""
    root = ElementTree.Element(root_name)
    if isinstance(body, list):
        child = root_name[:-1] if root_name.endswith('s') else 'item'
        for item in body:
            _xml_value(root, child, item)
    else:
        for key, value in body.items():
            _xml_value(root, key, value)
    return _xml_bytes(root)


def xml_element_document(root, namespace=None):
    if namespace:
        root.set('xmlns', namespace)
    return _xml_bytes(root)


#: No request body of this API nests deeper; deeper ones are refused before
#: validation (or an error message) walks them recursively.
MAX_BODY_DEPTH = 32
_TOO_DEEP = 'Malformed request body: nested too deeply.'


def _check_depth(data):
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_BODY_DEPTH:
            raise BodyError(400, _TOO_DEEP)
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return data


class BodyError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def _parse_xml(text):
    """The generic 2012 form: attributes and children become keys.

    ``<aggregate name="n"/>`` -> {"aggregate": {"name": "n"}};
    ``<set_metadata><metadata><k>v</k></metadata></set_metadata>`` ->
    {"set_metadata": {"metadata": {"k": "v"}}}; ``<meta key="a b">v</meta>``
    carries keys that are not XML names; ``xsi:nil="true"`` is null.
    """
    try:
        root = SafeElementTree.fromstring(text, forbid_dtd=True,
                                          forbid_entities=True,
                                          forbid_external=True)
    except defusedxml.DefusedXmlException:
        raise BodyError(400, 'XML documents with DTDs or entities are not '
                             'accepted.')
    except (ElementTree.ParseError, ValueError) as exc:
        raise BodyError(400, 'Malformed request body: %s' % exc)
    try:
        return {_local(root.tag): _xml_node(root)}
    except RecursionError:
        raise BodyError(400, _TOO_DEEP)


def _local(tag):
    return tag.rsplit('}', 1)[-1]


def _is_nil(node):
    for key, value in node.attrib.items():
        if _local(key) == 'nil' and value.lower() == 'true':
            return True
    return False


def _xml_node(node):
    if _is_nil(node):
        return None
    children = list(node)
    attrs = {_local(k): v for k, v in node.attrib.items()
             if _local(k) != 'nil'}
    if not children and not attrs:
        return node.text or ''
    result = dict(attrs)
    for child in children:
        tag = _local(child.tag)
        if tag == 'meta' and 'key' in child.attrib:
            result[child.attrib['key']] = None if _is_nil(child) else (
                child.text or '')
        elif tag in result:
            # A repeated element is a list (<hosts><host>a</host><host>b
            # </host></hosts>), never a silent last-one-wins.
            if not isinstance(result[tag], _Repeated):
                result[tag] = _Repeated([result[tag]])
            result[tag].append(_xml_node(child))
        else:
            result[tag] = _xml_node(child)
    return result


class _Repeated(list):
    """The values of an element repeated in an XML body."""


def parse_body(req, xml_allowed):
    """The request body as Python data; BodyError for what is not one."""
    content_type = (req.content_type or '').lower()
    raw = req.body
    if content_type in XML_TYPES:
        if not xml_allowed:
            raise BodyError(415, 'Unsupported Content-Type %s; send '
                                 'application/json.' % content_type)
        if not raw.strip():
            raise BodyError(400, 'The request body is empty.')
        return _check_depth(_parse_xml(raw))
    if content_type not in JSON_TYPES:
        raise BodyError(415, 'Unsupported Content-Type %s; send '
                             'application/json.'
                        % printable_for_message(content_type))
    if not raw.strip():
        raise BodyError(400, 'The request body is empty.')
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError:
        raise BodyError(400, 'Malformed request body: not UTF-8.')
    try:
        return _check_depth(json.loads(text))
    except RecursionError:
        raise BodyError(400, _TOO_DEEP)
    except ValueError as exc:
        raise BodyError(400, 'Malformed request body: %s' % exc)


def printable_for_message(text):
    """``text`` made safe to quote in an error message: control characters
    become ``?`` and it is cut at 100 characters."""
    return ''.join(c if unicodedata.category(c)[0] != 'C' else '?'
                   for c in text)[:100]
