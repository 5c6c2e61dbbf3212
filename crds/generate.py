#!/usr/bin/env python3
"""Generates meshgate's CustomResourceDefinitions.

The schemas below mirror the C++ resource model (api/networking.h, api/apim.h)
field for field, with Istio's camelCase JSON names. One definition per shared
type (StringMatch, Destination, TrafficPolicy, ...) is reused wherever the
model reuses it, which is why the YAML is generated rather than written: the
expanded schemas repeat those types many times over.

Writes crds/<group>_<plural>.yaml and the identical copies the Helm chart
installs (charts/meshgate/crds/). With --check, writes nothing and exits 1 if
any file on disk differs from what would be generated.

unit/crds/ checks the result against the decoder's own field table
(api::SpecSchema) and against the rules Kubernetes enforces for structural
schemas.
"""

import argparse
import copy
import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUTPUT_DIRS = [ROOT / "crds", ROOT / "charts" / "meshgate" / "crds"]

# Go / protobuf-JSON durations: "10s", "1.5s", "250ms", "1h30m". Istio's
# durations are never negative. unit/crds/ recognises duration fields by this
# exact pattern, so keep the two in step.
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"

INT32_MAX = 2147483647
HTTP_ROUTES_MAX = 100000
UINT32_MAX = 4294967295

# ---------------------------------------------------------------------------
# Schema building blocks


def string(description, **extra):
    node = {"description": description} if description else {}
    return {**node, "type": "string", **extra}


def boolean(description):
    return {"description": description, "type": "boolean"}


def integer(description, minimum=None, maximum=None):
    node = {"description": description, "type": "integer"}
    if minimum is not None:
        node["minimum"] = minimum
    if maximum is not None:
        node["maximum"] = maximum
    return node


def uint32(description, minimum=0, maximum=UINT32_MAX):
    return integer(description, minimum, maximum)


def int32(description, minimum=None, maximum=INT32_MAX):
    return integer(description, minimum, maximum)


def uint64(description):
    return integer(description, 0)


def port_number(description):
    return integer(description, 1, 65535)


def duration(description):
    return string(description, pattern=DURATION_PATTERN)


def enum(description, values):
    return string(description, enum=list(values))


def array(description, items):
    return {"description": description, "type": "array", "items": items}


def string_list(description, item_description="", **item_extra):
    return array(description, string(item_description, **item_extra))


def string_map(description):
    return {
        "description": description,
        "type": "object",
        "additionalProperties": {"type": "string"},
    }


def obj(description, properties, required=None, **extra):
    node = {"description": description, "type": "object"}
    if required:
        node["required"] = list(required)
    node["properties"] = properties
    node.update(extra)
    return node


def described(node, description):
    """A copy of a shared type with the description of the field using it."""
    node = copy.deepcopy(node)
    node["description"] = description
    return node


# ---------------------------------------------------------------------------
# Shared pieces (api/networking.h, "Shared pieces")


def string_match(description, allow_empty=False):
    """StringMatch: one of exact/prefix/regex.

    Exclusivity is stated with min/maxProperties rather than a CEL rule: the
    type sits under several nested unbounded lists, and a CEL rule there would
    exceed the CRD's estimated cost budget. Header and query-parameter matches
    may be empty ({}), which matches on presence alone, as in Istio.
    """
    bounds = {"maxProperties": 1} if allow_empty else {"minProperties": 1, "maxProperties": 1}
    return obj(
        description,
        {
            "exact": string("Exact string match."),
            "prefix": string("Prefix-based match."),
            "regex": string("RE2 regular expression match of the whole value."),
        },
        **bounds,
    )


def string_match_map(description):
    return {
        "description": description,
        "type": "object",
        "additionalProperties": string_match(
            "Match on the value; an empty match tests presence only.", allow_empty=True
        ),
    }


PORT_SELECTOR = obj(
    "Port of the destination service.", {"number": port_number("A valid non-negative port number.")}
)

DESTINATION = obj(
    "The service a request or connection is forwarded to.",
    {
        "host": string("Name of a service from the service registry (FQDN or short name)."),
        "subset": string("Name of a subset in the service's DestinationRule."),
        "port": PORT_SELECTOR,
    },
    required=["host"],
)

PERCENT = obj(
    "A percentage in the range 0..100.",
    {"value": {"description": "Percentage.", "type": "number", "minimum": 0, "maximum": 100}},
)

HEADER_OPERATIONS = obj(
    "Header manipulations.",
    {
        "set": string_map("Overwrite the headers named by the keys with the given values."),
        "add": string_map("Append the given values to the headers named by the keys."),
        "remove": string_list("Remove the named headers."),
    },
)

HEADERS = obj(
    "Header manipulation rules.",
    {
        "request": described(HEADER_OPERATIONS, "Header manipulation applied before forwarding a request."),
        "response": described(HEADER_OPERATIONS, "Header manipulation applied before returning a response."),
    },
)

SOURCE_LABELS = string_map("Applies only to workloads carrying these labels.")
MATCH_GATEWAYS = string_list(
    "Names of gateways the rule applies to; overrides the VirtualService's gateways."
)
SOURCE_NAMESPACE = string("Applies only to workloads in this namespace.")
DESTINATION_SUBNETS = string_list("IPv4 or IPv6 destination addresses with optional subnet (a.b.c.d/xx).")

# ---------------------------------------------------------------------------
# VirtualService

HTTP_MATCH_REQUEST = obj(
    "Conditions a request must meet for the rule to apply; all conditions are ANDed.",
    {
        "name": string("Name of the match, appended to the route's name in access logs."),
        "uri": string_match("URI to match."),
        "scheme": string_match("URI scheme to match."),
        "method": string_match("HTTP method to match."),
        "authority": string_match("HTTP authority to match."),
        "headers": string_match_map("Header values to match, by lower-case header name."),
        "port": port_number("Port on the host being addressed."),
        "sourceLabels": SOURCE_LABELS,
        "gateways": MATCH_GATEWAYS,
        "queryParams": string_match_map("Query parameters to match."),
        "ignoreUriCase": boolean("Match the URI case-insensitively."),
        "withoutHeaders": string_match_map("Headers that must not match (negated header match)."),
        "sourceNamespace": SOURCE_NAMESPACE,
        "statPrefix": string("Prefix of the statistics generated for this match."),
    },
)

HTTP_ROUTE_DESTINATION = obj(
    "A destination and the share of traffic it receives.",
    {
        "destination": DESTINATION,
        "weight": int32("Relative share of traffic forwarded to this destination.", minimum=0),
        "headers": HEADERS,
    },
    required=["destination"],
)

HTTP_REDIRECT = obj(
    "Send a redirect instead of forwarding the request.",
    {
        "uri": string("Replaces the path of the URL."),
        "authority": string("Replaces the authority (host) of the URL."),
        "port": port_number("Replaces the port of the URL."),
        "derivePort": enum(
            "Derive the port from the protocol's default or from the request.",
            ["FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"],
        ),
        "scheme": string("Replaces the scheme of the URL."),
        "redirectCode": integer("HTTP status of the redirect; 301 when unset.", 300, 399),
    },
)

HTTP_DIRECT_RESPONSE = obj(
    "Answer the request directly with a fixed response.",
    {
        "status": integer("HTTP status of the response.", 200, 599),
        "body": obj(
            "Response body; exactly one of string or bytes.",
            {
                "string": string("Body as text."),
                "bytes": string("Body as base64-encoded bytes.", format="byte"),
            },
            minProperties=1,
            maxProperties=1,
        ),
    },
    required=["status"],
)

DELEGATE = obj(
    "Hand the routing decision to another VirtualService.",
    {
        "name": string("Name of the delegate VirtualService."),
        "namespace": string("Namespace of the delegate; the current namespace when unset."),
    },
    required=["name"],
)

HTTP_REWRITE = obj(
    "Rewrite parts of the request before forwarding it.",
    {
        "uri": string("Replaces the matched part of the path (the whole path for exact matches)."),
        "authority": string("Replaces the Host/Authority header."),
        "uriRegexRewrite": obj(
            "Rewrites the path with a regular expression.",
            {
                "match": string("RE2 regular expression matched against the path."),
                "rewrite": string("Replacement; may refer to capture groups (\\1)."),
            },
        ),
    },
)

HTTP_RETRY = obj(
    "Retry policy.",
    {
        "attempts": int32("Number of retries for a request.", minimum=0),
        "perTryTimeout": duration("Timeout per attempt, including the first."),
        "retryOn": string("Comma-separated conditions (Envoy retry policies, gRPC codes, status codes)."),
        "retryRemoteLocalities": boolean("Whether retries may go to other localities."),
    },
)

HTTP_FAULT_INJECTION = obj(
    "Faults injected into matching requests.",
    {
        "delay": obj(
            "Delay requests before forwarding them.",
            {
                "fixedDelay": duration("Delay before forwarding the request."),
                "exponentialDelay": duration("Not supported; rejected by validation."),
                "percentage": described(PERCENT, "Percentage of requests delayed."),
                "percent": int32("Deprecated integer percentage; use percentage.", 0, 100),
            },
        ),
        "abort": obj(
            "Abort requests with an error.",
            {
                "httpStatus": integer("HTTP status returned to the client.", 200, 599),
                "grpcStatus": string("gRPC status returned to the client, e.g. UNAVAILABLE."),
                "percentage": described(PERCENT, "Percentage of requests aborted."),
            },
        ),
    },
)

HTTP_MIRROR_POLICY = obj(
    "A mirror destination and the share of traffic it receives.",
    {
        "destination": DESTINATION,
        "percentage": described(PERCENT, "Percentage of requests mirrored."),
    },
    required=["destination"],
)

CORS_POLICY = obj(
    "Cross-origin resource sharing policy.",
    {
        "allowOrigins": array("Origins allowed to make requests.", string_match("An allowed origin.")),
        "allowOrigin": string_list("Deprecated exact origins; use allowOrigins."),
        "allowMethods": string_list("Methods allowed (Access-Control-Allow-Methods)."),
        "allowHeaders": string_list("Headers allowed (Access-Control-Allow-Headers)."),
        "exposeHeaders": string_list("Headers exposed (Access-Control-Expose-Headers)."),
        "maxAge": duration("How long preflight results may be cached."),
        "allowCredentials": boolean("Whether credentials may be sent (Access-Control-Allow-Credentials)."),
        "unmatchedPreflights": enum(
            "What to do with preflight requests whose origin does not match.",
            ["UNSPECIFIED", "FORWARD", "IGNORE"],
        ),
    },
)

HTTP_ROUTE = obj(
    "An HTTP rule: match conditions and one action (route, redirect, directResponse or delegate).",
    {
        "name": string("Name of the route, for access logs and debugging."),
        "match": array("Conditions of the rule; any one must match (ORed).", HTTP_MATCH_REQUEST),
        "route": array("Destinations traffic is forwarded to.", HTTP_ROUTE_DESTINATION),
        "redirect": HTTP_REDIRECT,
        "directResponse": HTTP_DIRECT_RESPONSE,
        "delegate": DELEGATE,
        "rewrite": HTTP_REWRITE,
        "timeout": duration("Timeout of the whole request."),
        "retries": HTTP_RETRY,
        "fault": HTTP_FAULT_INJECTION,
        "mirror": described(DESTINATION, "Mirror traffic to this destination as well."),
        "mirrors": array("Mirror traffic to these destinations as well.", HTTP_MIRROR_POLICY),
        "mirrorPercentage": described(PERCENT, "Percentage of traffic mirrored to mirror."),
        "mirrorPercent": uint32("Deprecated integer percentage; use mirrorPercentage.", 0, 100),
        "corsPolicy": CORS_POLICY,
        "headers": HEADERS,
    },
    **{
        "x-kubernetes-validations": [
            {
                "rule": "(has(self.route) ? 1 : 0) + (has(self.redirect) ? 1 : 0)"
                " + (has(self.directResponse) ? 1 : 0) + (has(self.delegate) ? 1 : 0) <= 1",
                "message": "at most one of route, redirect, directResponse and delegate may be set",
            }
        ]
    },
)

ROUTE_DESTINATION = obj(
    "A layer-4 destination and the share of connections it receives.",
    {
        "destination": DESTINATION,
        "weight": int32("Relative share of connections forwarded to this destination.", minimum=0),
    },
    required=["destination"],
)

TLS_MATCH_ATTRIBUTES = obj(
    "Conditions a TLS connection must meet.",
    {
        "sniHosts": string_list("SNI values to match; wildcard prefixes allowed."),
        "destinationSubnets": DESTINATION_SUBNETS,
        "port": port_number("Port on the host being addressed."),
        "sourceLabels": SOURCE_LABELS,
        "gateways": MATCH_GATEWAYS,
        "sourceNamespace": SOURCE_NAMESPACE,
    },
)

TLS_ROUTE = obj(
    "A rule for unterminated TLS (passthrough) traffic, matched on SNI.",
    {
        "match": array("Conditions of the rule; any one must match.", TLS_MATCH_ATTRIBUTES),
        "route": array("Destinations connections are forwarded to.", ROUTE_DESTINATION),
    },
)

L4_MATCH_ATTRIBUTES = obj(
    "Conditions a TCP connection must meet.",
    {
        "destinationSubnets": DESTINATION_SUBNETS,
        "port": port_number("Port on the host being addressed."),
        "sourceSubnet": string("Source address with optional subnet."),
        "sourceLabels": SOURCE_LABELS,
        "gateways": MATCH_GATEWAYS,
        "sourceNamespace": SOURCE_NAMESPACE,
    },
)

TCP_ROUTE = obj(
    "A rule for opaque TCP traffic.",
    {
        "match": array("Conditions of the rule; any one must match.", L4_MATCH_ATTRIBUTES),
        "route": array("Destinations connections are forwarded to.", ROUTE_DESTINATION),
    },
)

EXPORT_TO = string_list("Namespaces the object is visible to: '.', '*' or namespace names.")

VIRTUAL_SERVICE_SPEC = obj(
    "Traffic routing rules for a set of hosts (Istio networking VirtualService).",
    {
        "hosts": string_list("Destination hosts the rules apply to; wildcard prefixes allowed."),
        "gateways": string_list("Gateways (and 'mesh' for sidecars) the rules apply to."),
        # The bound keeps the CEL rule on HTTP_ROUTE within the API server's
        # estimated cost budget (cost x cardinality <= 1e7; unbounded lists are
        # assumed to hold ~1e6 items). No storable object comes near it: etcd
        # keeps objects up to 1.5 MB, and a route takes more than 15 bytes.
        "http": {
            **array("HTTP rules, evaluated in order; the first match wins.", HTTP_ROUTE),
            "maxItems": HTTP_ROUTES_MAX,
        },
        "tls": array("Rules for passthrough TLS and HTTPS traffic.", TLS_ROUTE),
        "tcp": array("Rules for opaque TCP traffic.", TCP_ROUTE),
        "exportTo": EXPORT_TO,
    },
)

# ---------------------------------------------------------------------------
# DestinationRule

LOAD_BALANCER_SETTINGS = obj(
    "Load-balancing policy.",
    {
        "simple": enum(
            "A standard load-balancing algorithm.",
            ["UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"],
        ),
        "consistentHash": obj(
            "Hash-based (session affinity) load balancing; exactly one hash key.",
            {
                "httpHeaderName": string("Hash on this request header."),
                "httpCookie": obj(
                    "Hash on this cookie, generating it when absent.",
                    {
                        "name": string("Name of the cookie."),
                        "path": string("Path of the cookie."),
                        "ttl": duration("Lifetime of the generated cookie."),
                    },
                    required=["name"],
                ),
                "useSourceIp": boolean("Hash on the source IP address."),
                "httpQueryParameterName": string("Hash on this query parameter."),
                "ringHash": obj(
                    "Use the ring hash algorithm (the default).",
                    {"minimumRingSize": uint64("Minimum number of virtual nodes on the ring.")},
                ),
                "maglev": obj(
                    "Use the Maglev algorithm.",
                    {"tableSize": uint64("Size of the lookup table; should be prime.")},
                ),
                "minimumRingSize": uint64("Deprecated; use ringHash.minimumRingSize."),
            },
        ),
        "localityLbSetting": obj(
            "Locality-weighted load balancing.",
            {
                "distribute": array(
                    "Traffic distribution from a locality to others.",
                    obj(
                        "Weights for traffic originating in one locality.",
                        {
                            "from": string("Originating locality, region/zone/sub_zone; '*' allowed."),
                            "to": {
                                "description": "Destination localities and their weights (summing to 100).",
                                "type": "object",
                                "additionalProperties": integer("Weight.", 0, 100),
                            },
                        },
                    ),
                ),
                "failover": array(
                    "Where traffic goes when a region has no healthy endpoints.",
                    obj(
                        "A failover pair of regions.",
                        {
                            "from": string("Originating region."),
                            "to": string("Region traffic fails over to."),
                        },
                    ),
                ),
                "failoverPriority": string_list("Ordered labels endpoints are prioritised by."),
                "enabled": boolean("Whether locality load balancing is enabled."),
            },
        ),
        "warmupDurationSecs": duration("Slow-start window for new endpoints."),
    },
)

CONNECTION_POOL_SETTINGS = obj(
    "Connection pool limits for the upstream service.",
    {
        "tcp": obj(
            "Settings common to TCP and HTTP connections.",
            {
                "maxConnections": int32("Maximum number of connections to a host.", minimum=0),
                "connectTimeout": duration("TCP connect timeout."),
                "tcpKeepalive": obj(
                    "TCP keepalive.",
                    {
                        "probes": uint32("Unanswered probes before the connection is dropped."),
                        "time": duration("Idle time before the first probe."),
                        "interval": duration("Interval between probes."),
                    },
                ),
                "maxConnectionDuration": duration("Maximum lifetime of a connection."),
                "idleTimeout": duration("Idle timeout of a connection."),
            },
        ),
        "http": obj(
            "Settings of HTTP connections.",
            {
                "http1MaxPendingRequests": int32("Maximum pending requests to a destination.", minimum=0),
                "http2MaxRequests": int32("Maximum active requests to a destination.", minimum=0),
                "maxRequestsPerConnection": int32("Maximum requests per connection; 0 is unlimited.", minimum=0),
                "maxRetries": int32("Maximum outstanding retries across the cluster.", minimum=0),
                "idleTimeout": duration("Idle timeout of an upstream connection pool connection."),
                "h2UpgradePolicy": enum(
                    "Whether HTTP/1.1 connections are upgraded to HTTP/2.",
                    ["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"],
                ),
                "useClientProtocol": boolean("Use the client's protocol upstream."),
                "maxConcurrentStreams": int32("Maximum concurrent streams per HTTP/2 connection.", minimum=0),
            },
        ),
    },
)

OUTLIER_DETECTION = obj(
    "Ejection of unhealthy hosts from the load-balancing pool.",
    {
        "splitExternalLocalOriginErrors": boolean("Count local-origin failures separately."),
        "consecutiveLocalOriginFailures": uint32("Local-origin failures before ejection."),
        "consecutiveGatewayErrors": uint32("Gateway errors (502, 503, 504) before ejection."),
        "consecutive5xxErrors": uint32("5xx errors before ejection."),
        "consecutiveErrors": int32("Deprecated; use consecutive5xxErrors.", minimum=0),
        "interval": duration("Time between ejection sweeps."),
        "baseEjectionTime": duration("Minimum ejection duration."),
        "maxEjectionPercent": int32("Maximum percentage of hosts that may be ejected.", 0, 100),
        "minHealthPercent": int32("Outlier detection is off below this percentage of healthy hosts.", 0, 100),
    },
)

CLIENT_TLS_SETTINGS = obj(
    "TLS settings for upstream connections.",
    {
        "mode": enum(
            "Whether and how upstream connections use TLS.",
            ["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"],
        ),
        "clientCertificate": string("Path of the client certificate (MUTUAL)."),
        "privateKey": string("Path of the client's private key (MUTUAL)."),
        "caCertificates": string("Path of the CA certificates that verify the server."),
        "credentialName": string("Secret holding the client certificate, key and CA."),
        "subjectAltNames": string_list("Accepted subject alternative names of the server."),
        "sni": string("SNI sent during the handshake."),
        "insecureSkipVerify": boolean("Skip verification of the server's certificate."),
        "caCrl": string("Path of the certificate revocation list."),
    },
)

TRAFFIC_POLICY_COMMON = {
    "loadBalancer": LOAD_BALANCER_SETTINGS,
    "connectionPool": CONNECTION_POOL_SETTINGS,
    "outlierDetection": OUTLIER_DETECTION,
    "tls": CLIENT_TLS_SETTINGS,
}

TRAFFIC_POLICY = obj(
    "Traffic policy applied to the destination.",
    {
        **TRAFFIC_POLICY_COMMON,
        "portLevelSettings": array(
            "Traffic policies for individual ports; they override the policy above.",
            obj(
                "Traffic policy of one port.",
                {"port": PORT_SELECTOR, **TRAFFIC_POLICY_COMMON},
            ),
        ),
        "tunnel": obj(
            "Tunnel TCP over a CONNECT or POST request.",
            {
                "protocol": string("CONNECT or POST."),
                "targetHost": string("Host of the tunnel's destination."),
                "targetPort": port_number("Port of the tunnel's destination."),
            },
            required=["targetHost", "targetPort"],
        ),
        "proxyProtocol": obj(
            "Send the PROXY protocol header upstream.",
            {"version": enum("PROXY protocol version.", ["V1", "V2"])},
        ),
    },
)

DESTINATION_RULE_SPEC = obj(
    "Policies applied to traffic for a service after routing (Istio networking DestinationRule).",
    {
        "host": string("Name of a service from the service registry."),
        "trafficPolicy": TRAFFIC_POLICY,
        "subsets": array(
            "Named sets of endpoints, for version-specific routing.",
            obj(
                "A subset of the service's endpoints.",
                {
                    "name": string("Name of the subset, referred to by routes."),
                    "labels": string_map("Labels selecting the subset's endpoints."),
                    "trafficPolicy": described(TRAFFIC_POLICY, "Traffic policy of the subset; overrides the rule's."),
                },
                required=["name"],
            ),
        ),
        "exportTo": EXPORT_TO,
        "workloadSelector": obj(
            "Workloads the rule applies to; all workloads in the namespace when unset.",
            {"matchLabels": string_map("Labels a workload must carry.")},
        ),
    },
    required=["host"],
)

# ---------------------------------------------------------------------------
# APIProduct

API_PRODUCT_SPEC = {
    "description": "An API exposed as a product at the gateway. Fields are not yet typed.",
    "type": "object",
    "x-kubernetes-preserve-unknown-fields": True,
}

# ---------------------------------------------------------------------------
# Status and CRD wrapper, shared by every kind

STATUS = obj(
    "State of the object as observed by meshgate.",
    {
        "observedGeneration": integer("Generation of the object this status describes.", 0),
        "conditions": {
            "description": "Latest observations of the object's state (Accepted, Programmed).",
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
            "items": obj(
                "One aspect of the object's state.",
                {
                    "type": string("Type of the condition, e.g. Programmed."),
                    "status": enum("Status of the condition.", ["True", "False", "Unknown"]),
                    "reason": string("Machine-readable reason for the last transition."),
                    "message": string("Human-readable detail of the last transition."),
                    "lastTransitionTime": string(
                        "When the status last changed.", format="date-time"
                    ),
                    "observedGeneration": integer(
                        "Generation of the object the condition was set for.", 0
                    ),
                },
                required=["type", "status"],
            ),
        },
    },
)

PROGRAMMED_COLUMN = {
    "name": "Programmed",
    "type": "string",
    "description": "Whether the configuration has been accepted by the proxies.",
    "jsonPath": '.status.conditions[?(@.type=="Programmed")].status',
}
AGE_COLUMN = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


def crd(group, version, kind, plural, short_names, spec, columns):
    schema = {
        "description": spec["description"],
        "type": "object",
        "properties": {
            "apiVersion": string("Versioned schema of this representation of the object."),
            "kind": string("REST resource this object represents."),
            "metadata": {"type": "object"},
            "spec": spec,
            "status": STATUS,
        },
        "required": ["spec"],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{group}",
            "labels": {"app.kubernetes.io/part-of": "meshgate"},
        },
        "spec": {
            "group": group,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short_names,
                "categories": ["meshgate"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns + [PROGRAMMED_COLUMN, AGE_COLUMN],
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


CRDS = [
    crd(
        "networking.meshgate.io",
        "v1",
        "VirtualService",
        "virtualservices",
        ["vs"],
        VIRTUAL_SERVICE_SPEC,
        [
            {"name": "Hosts", "type": "string", "description": "Destination hosts.", "jsonPath": ".spec.hosts"},
            {"name": "Gateways", "type": "string", "description": "Gateways.", "jsonPath": ".spec.gateways"},
        ],
    ),
    crd(
        "networking.meshgate.io",
        "v1",
        "DestinationRule",
        "destinationrules",
        ["dr"],
        DESTINATION_RULE_SPEC,
        [{"name": "Host", "type": "string", "description": "The destination service.", "jsonPath": ".spec.host"}],
    ),
    crd("apim.meshgate.io", "v1alpha1", "APIProduct", "apiproducts", ["ap"], API_PRODUCT_SPEC, []),
]

HEADER = "# Generated by crds/generate.py from the resource model; do not edit.\n"


class _Dumper(yaml.SafeDumper):
    """Block style, no anchors/aliases (shared types are expanded)."""

    def ignore_aliases(self, data):
        return True

    def increase_indent(self, flow=False, indentless=False):
        # Indent list items under their key, as kubectl and most CRDs do.
        return super().increase_indent(flow, False)


def render(definition):
    body = yaml.dump(
        definition,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
    )
    return HEADER + "---\n" + body


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if any file is out of date")
    args = parser.parse_args()
    stale = []
    for definition in CRDS:
        name = f"{definition['spec']['group']}_{definition['spec']['names']['plural']}.yaml"
        text = render(definition)
        for directory in OUTPUT_DIRS:
            path = directory / name
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current == text:
                continue
            if args.check:
                stale.append(str(path.relative_to(ROOT)))
            else:
                directory.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print("out of date (run crds/generate.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
