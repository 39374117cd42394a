"""YAML configs: loading, ``-o key.sub=value`` overrides and validation against a schema.

The schema is plain data (``Field``/``Section``) plus *signature sections*: a section whose
``name`` picks an entry of a name table (``GENERATORS``, ``DATASETS``, ...) is checked against
the keyword arguments of that entry, so the code a config key reaches is the code that
documents it. Every error names the file, the key path and, for a typo, the closest valid key.
"""
import copy
import difflib
import inspect
import os
import re

import yaml


class ConfigError(ValueError):
    """A config file or override is invalid. The message says where and how to fix it."""


_ANY = object()


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``2e-4`` and ``1.0e4`` as floats (YAML 1.1 needs a dot and
    a signed exponent, so PyYAML would keep them as strings)."""


_Loader.add_implicit_resolver("tag:yaml.org,2002:float",
                              re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
                              list("-+0123456789"))


class Field:
    """One leaf key: expected type(s), default, whether it is required, one-line help."""

    def __init__(self, types, default=None, required=False, help="", choices=None, minimum=None):
        types = types if isinstance(types, tuple) else (types,)
        if float in types and int not in types:
            types += (int,)  # an int is a valid float (lr: 1)
        if default is None and not required and type(None) not in types:
            types += (type(None),)  # null means "use the default behaviour"
        self.types = types
        self.default = default
        self.required = required
        self.help = help
        self.choices = choices
        self.minimum = minimum


class Section:
    """A mapping of fixed keys, each a Field, Section or Component."""

    def __init__(self, fields, help="", optional=False):
        self.fields = fields
        self.optional = optional
        self.help = help


class Component:
    """A section built by a callable: ``select`` picks it from ``table`` (or ``table`` is the
    callable itself), other keys must be keyword arguments of that callable. ``extra`` holds
    keys the engine consumes itself; ``exclude`` lists arguments the engine passes in;
    ``choices`` maps argument names to their valid values (for example ``norm``)."""

    def __init__(self, table, select="name", default_name=None, extra=None, exclude=(), help="",
                 optional=False, choices=None):
        self.table = table
        self.choices = choices or {}
        self.optional = optional
        self.select = select
        self.default_name = default_name
        self.extra = extra or {}
        self.exclude = set(exclude)
        self.help = help

    def target(self, cfg, where):
        if callable(self.table):
            return self.table
        name = cfg.get(self.select, self.default_name)
        if name is None:
            raise ConfigError(f"{where}.{self.select}: missing required key "
                              f"(one of: {', '.join(sorted(self.table))})")
        if name not in self.table:
            raise ConfigError(f"{where}.{self.select}: unknown value '{name}'.{_did_you_mean(name, self.table)} "
                              f"Valid values: {', '.join(sorted(self.table))}")
        return self.table[name]

    def arguments(self, fn):
        """{arg: Field} from the callable's keyword arguments and their defaults."""
        fields = {}
        choices = {**self.choices, **getattr(fn, "config_choices", {})}  # a class may narrow its own
        for p in inspect.signature(fn).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in self.exclude or p.name == "self":
                continue
            required = p.default is inspect.Parameter.empty
            default = None if required else p.default
            fields[p.name] = Field(_type_of(p, default), default, required=required,
                                   choices=choices.get(p.name))
        return fields


def _type_of(param, default):
    ann = param.annotation
    if ann in (int, float, str, bool, list, dict):
        types = (ann,)
    elif default is None or default is inspect.Parameter.empty:
        return (_ANY,)
    else:
        types = (type(default),)
    if float in types:
        types = types + (int,)
    if tuple in types:
        types = types + (list,)
    return types + ((type(None),) if default is None else ())


def _did_you_mean(word, options):
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def _type_ok(value, types):
    if _ANY in types:
        return True
    if isinstance(value, bool) and bool not in types:
        return False  # yaml 'yes'/'true' must not pass as an int
    return isinstance(value, types)


def _type_names(types):
    return " or ".join("any" if t is _ANY else ("null" if t is type(None) else t.__name__) for t in types)


def validate(cfg, schema, where="config"):
    """Check ``cfg`` against ``schema`` and return a copy with every default filled in."""
    if not isinstance(cfg, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, got {type(cfg).__name__} ({cfg!r})")
    if isinstance(schema, Component):
        fn = schema.target(cfg, where)
        fields = dict(schema.arguments(fn))
        fields.update(schema.extra)
        if not callable(schema.table):
            fields[schema.select] = Field(str, schema.default_name, required=schema.default_name is None)
    else:
        fields = schema.fields
    out = {}
    for key, value in cfg.items():
        if key not in fields:
            raise ConfigError(f"{where}.{key}: unknown key.{_did_you_mean(key, fields)} "
                              f"Valid keys here: {', '.join(sorted(fields))}")
    for key, spec in fields.items():
        path = f"{where}.{key}"
        if isinstance(spec, (Section, Component)):
            sub = cfg.get(key)
            if sub is None and getattr(spec, "optional", False):
                out[key] = None
            else:
                out[key] = validate(sub if sub is not None else {}, spec, path)
            continue
        if key not in cfg:
            if spec.required:
                hint = f" ({spec.help})" if spec.help else ""
                raise ConfigError(f"{path}: missing required key{hint}")
            out[key] = copy.deepcopy(spec.default)
            continue
        value = cfg[key]
        if not _type_ok(value, spec.types):
            raise ConfigError(f"{path}: expected {_type_names(spec.types)}, got "
                              f"{type(value).__name__} ({value!r})")
        if spec.minimum is not None and value is not None and value < spec.minimum:
            raise ConfigError(f"{path}: must be at least {spec.minimum}, got {value}")
        for item in (value if isinstance(value, list) else [value]) if spec.choices is not None else []:
            if item not in spec.choices:  # a list field checks each of its items
                raise ConfigError(f"{path}: '{item}' is not one of {list(spec.choices)}."
                                  f"{_did_you_mean(item, spec.choices)}")
        out[key] = value
    return out


def parse_overrides(opts):
    """``['a.b=1', 'c=[1, 2]']`` -> nested dict; values are parsed as YAML."""
    result = {}
    for opt in opts or []:
        if "=" not in opt:
            raise ConfigError(f"override '{opt}': expected key.sub=value (for example "
                              f"train.max_iters=10)")
        key, raw = opt.split("=", 1)
        try:
            value = yaml.load(raw, Loader=_Loader) if raw != "" else None
        except yaml.YAMLError as err:
            raise ConfigError(f"override '{opt}': value is not valid YAML ({err})") from None
        node = result
        parts = key.strip().split(".")
        if not all(parts):
            raise ConfigError(f"override '{opt}': empty key name in '{key}' (expected key.sub=value, "
                              f"for example train.max_iters=10)")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override '{opt}': '{part}' is set to a value and a sub-key at once")
        node[parts[-1]] = value
    return result


def merge(base, update):
    """Deep-merge ``update`` into a copy of ``base`` (dicts merge, everything else replaces)."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_yaml(path):
    """A YAML file as a dict (safe loader); ConfigError naming the file otherwise."""
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: config file not found (configs live in configs/, for example "
                          f"configs/quickstart_cyclegan.yaml)")
    try:
        with open(path, encoding="utf-8") as f:
            cfg = yaml.load(f, Loader=_Loader) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: expected a mapping of keys (model:, dataset:, ...), got {type(cfg).__name__}")
    return cfg


def load_config(path, overrides=None, schema=None):
    """Read a YAML config, apply overrides (list of ``key=value`` or a dict), validate it. One of
    PaddleGAN's configs is translated first (:mod:`ppimg2img.paddlegan_config`).

    Raises ConfigError naming the file and the key path on any problem.
    """
    if schema is None:
        from .engine.schema import CONFIG_SCHEMA as schema
    cfg = read_yaml(path)
    from .paddlegan_config import detect, load_paddlegan_config
    if schema is _config_schema() and detect(cfg):  # one of PaddleGAN's configs: translated
        as_list = isinstance(overrides, (list, tuple))
        return load_paddlegan_config(path, overrides if as_list else None, None if as_list else overrides)[0]
    if isinstance(overrides, (list, tuple)):
        overrides = parse_overrides(overrides)
    cfg = merge(cfg, overrides or {})
    try:
        resolved = validate(cfg, schema, where="config")
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    return resolved


def _config_schema():
    from .engine.schema import CONFIG_SCHEMA
    return CONFIG_SCHEMA


def save_config(cfg, path, header=None):
    """Write the resolved config as YAML (atomically), after ``header`` (comment lines, such as the
    PaddleGAN file a config was translated from)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        if header:
            f.write("".join(f"# {line}\n" if not line.startswith("#") else f"{line}\n"
                            for line in header.rstrip("\n").split("\n")))
        yaml.safe_dump(cfg, f, sort_keys=False, default_flow_style=False)
    os.replace(tmp, path)
