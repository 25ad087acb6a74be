"""`training.script_module.load_script`: a chapter script as a module, for tests and benchmarks."""

import pytest

from keras_transformer.training.script_module import load_script


def test_a_script_loads_as_a_module_without_running_its_main_block(tmp_path):
    """`load_script` gives a script's names and dataclasses, keeps two scripts of one chapter apart, and never runs `__main__`."""
    body = ("import dataclasses\n"
            "@dataclasses.dataclass\n"
            "class Config:\n"
            "    steps: int = {steps}\n"
            "if __name__ == '__main__':\n"
            "    raise SystemExit('the main block ran')\n")
    for name, steps in (("05_bert_cola.py", 3), ("05_bert_pretraining.py", 7)):
        (tmp_path / name).write_text(body.format(steps=steps))
    cola, pretraining = (load_script(tmp_path / n) for n in ("05_bert_cola.py", "05_bert_pretraining.py"))
    assert (cola.Config().steps, pretraining.Config().steps) == (3, 7)
    with pytest.raises(FileNotFoundError, match="not a script file"):
        load_script(tmp_path / "missing.py")
