"""The README's "From pytest" example runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_example_passes(pytester):
    text = README.read_text()
    section = text[text.index("\n## From pytest\n") :]
    example = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    assert "def test_" in example and "ubx_module" in example
    pytester.makepyfile(test_readme_example=example)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
