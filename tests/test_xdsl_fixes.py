"""The parser fixes apply to this project's parser only: xDSL's own classes stay unchanged.

`tracr_ir.xdsl_fixes.TracrParser` (used by `parse_module` and `tracr-opt`) fixes xDSL 0.74
parser bugs in a subclass; `xdsl-opt`, which imports `tracr_ir` through the `xdsl.universe`
entry point, and any other user of `xdsl.parser.Parser` must parse exactly as xDSL does.
"""

import inspect
import subprocess
import sys

import pytest
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr
from xdsl.ir import Attribute, Block, ParametrizedAttribute
from xdsl.parser import AttrParser, BaseParser, Parser
from xdsl.utils.exceptions import ParseError
from xdsl.utils.mlir_lexer import MLIRLexer

from tracr_ir.compiler import make_context, parse_module
from tracr_ir.errors import IRError
from tracr_ir.tools import opt
from tracr_ir.xdsl_fixes import STRING_LITERAL, TracrLexer, TracrParser

XDSL_CLASSES = (Parser, AttrParser, BaseParser, MLIRLexer, Attribute, ParametrizedAttribute,
                Block, DenseIntOrFPElementsAttr)

# One input per fix; each is a parse error with tracr-ir's parser.
BAD_INPUTS = [
    'builtin.module attributes {v = "an unterminated string without its closing quote} {}',
    "builtin.module attributes {v = 99999999999 : i8} {}",
    "builtin.module attributes {v = 3.5e38 : f32} {}",
    'builtin.module attributes {v = dense<"0x0000803F00"> : tensor<1xf32>} {}',
    "builtin.module attributes {v = dense<0.0> : tensor<100000x100000xf32>} {}",
    "builtin.module attributes {v = dense<(1.0, 2.0> : tensor<1xcomplex<f32>>} {}",
    "builtin.module attributes {v = !rasp.selector<1>} {}",
    '"builtin.module"() ({\n^5:\n}) : () -> ()',
]


def xdsl_defined(cls: type) -> list[str]:
    """The names in `cls`'s own namespace whose functions are not xDSL's."""
    foreign = []
    for name, value in vars(cls).items():
        if isinstance(value, (classmethod, staticmethod)):
            value = value.__func__
        module = getattr(inspect.unwrap(value), "__module__", None) if callable(value) else None
        if module is not None and not module.startswith("xdsl."):
            foreign.append(f"{cls.__name__}.{name} from {module}")
    return foreign


@pytest.mark.parametrize("text", BAD_INPUTS)
def test_tracr_parser_reports_each_bug_as_a_parse_error(text):
    with pytest.raises(IRError, match="parse error"):
        parse_module(text)


def test_xdsl_classes_are_unchanged_after_tracr_ir_parsed(tmp_path, capsys):
    for i, text in enumerate(BAD_INPUTS):
        with pytest.raises(IRError):
            parse_module(text)
        path = tmp_path / f"bad{i}.mlir"
        path.write_text(text)
        assert opt.main([str(path)]) == 1
        assert "internal error" not in capsys.readouterr().err
    assert [name for cls in XDSL_CLASSES for name in xdsl_defined(cls)] == []
    assert MLIRLexer._unescaped_characters_regex is not STRING_LITERAL
    assert "++" not in MLIRLexer._unescaped_characters_regex.pattern
    assert TracrLexer._unescaped_characters_regex is STRING_LITERAL
    assert ParametrizedAttribute.parse_parameters.__func__.__module__ == "xdsl.ir.core"


def test_plain_xdsl_parser_keeps_xdsl_behaviour():
    """xDSL's own parser still has the bugs tracr-ir's fixes (so nothing was patched)."""
    with pytest.raises(ValueError, match="zip"):
        Parser(make_context(), "!rasp.selector<1>").parse_type()
    with pytest.raises(ParseError):
        TracrParser(make_context(), "!rasp.selector<1>").parse_type()
    with pytest.raises(ValueError, match="Block"):
        Parser(make_context(), BAD_INPUTS[-1]).parse_module()


def test_xdsl_universe_entry_point_patches_nothing():
    """What `xdsl-opt` does at start-up (load every `xdsl.universe`, tracr-ir's included)
    leaves xDSL's parser classes as xDSL defines them."""
    code = (
        "import inspect\n"
        "from xdsl.universe import Universe\n"
        "universe = Universe.get_multiverse()\n"
        "assert 'rasp' in universe.all_dialects\n"
        "import sys; assert 'tracr_ir' in sys.modules\n"
        "from xdsl.parser import AttrParser, Parser\n"
        "from xdsl.ir import ParametrizedAttribute\n"
        "from xdsl.utils.mlir_lexer import MLIRLexer\n"
        "for cls in (Parser, AttrParser, MLIRLexer, ParametrizedAttribute):\n"
        "    for name, value in vars(cls).items():\n"
        "        value = getattr(value, '__func__', value)\n"
        "        module = getattr(value, '__module__', None) if callable(value) else None\n"
        "        assert module is None or module.startswith('xdsl.'), (cls, name, module)\n"
        "assert '++' not in MLIRLexer._unescaped_characters_regex.pattern\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
