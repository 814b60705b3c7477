"""The ``POST os-host-matching`` answer: JSON on both surfaces, and the
2012 XML on the legacy one (one element per field, as the generic
serializer writes them; a rejected host is a ``<host>`` too)."""

from xml.etree import ElementTree

from nova_aggregates.api import wsgi


def result(matched):
    return {
        'hosts': [{'host': match.host, 'zone': match.zone,
                   'aggregates': list(match.aggregates)}
                  for match in matched.hosts],
        'rejected': [{'host': rejection.host, 'filter': rejection.filter,
                      'reason': rejection.reason}
                     for rejection in matched.rejected],
    }


def _field(parent, name, text):
    ElementTree.SubElement(parent, name).text = str(text)


def xml_result(matched):
    root = ElementTree.Element('host_matching')
    hosts = ElementTree.SubElement(root, 'hosts')
    for match in matched.hosts:
        node = ElementTree.SubElement(hosts, 'host')
        _field(node, 'host', match.host)
        _field(node, 'zone', match.zone)
        aggregates = ElementTree.SubElement(node, 'aggregates')
        for aggregate_id in match.aggregates:
            _field(aggregates, 'aggregate', aggregate_id)
    rejected = ElementTree.SubElement(root, 'rejected')
    for rejection in matched.rejected:
        node = ElementTree.SubElement(rejected, 'host')
        _field(node, 'host', rejection.host)
        _field(node, 'filter', rejection.filter)
        _field(node, 'reason', rejection.reason)
    return wsgi.xml_response(wsgi.xml_element_document(root))
