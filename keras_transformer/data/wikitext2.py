"""WikiText-2 (validation and test splits): whole Wikipedia articles for encoder pretraining."""

from __future__ import annotations

import os
import re

from keras_transformer.data.files import resolve_data_file

ORIGIN = (
    "https://raw.githubusercontent.com/pytorch/examples/"
    "77f55b912142e11fcfdf5b530231fb9c52f181e8/word_language_model/data/wikitext-2/{}.txt"
)
SHA256 = {
    "valid": "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8",
    "test": "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0",
}
TITLE = re.compile(r"^ = [^=].* = $")  # " = Title = "; sections are " = = Section = = "
SECTION = re.compile(r"^ (= )+.* (= )+$")


def detokenize(line: str) -> str:
    """Undo WikiText's tokenization: `@-@`, `@,@`, `@.@` joins and spaces before punctuation.

    `<unk>` (the dataset's rare-word token) stays as it is.

    Example:
    >>> detokenize(" a 3 @.@ 5 @-@ inch ( 9 cm ) claw , mostly . ")
    'a 3.5-inch (9 cm) claw, mostly.'
    """
    text = re.sub(r" @(.)@ ?", r"\1", line.strip())
    text = re.sub(r" ([.,;:!?)\]])", r"\1", text)
    return re.sub(r"([(\[]) ", r"\1", text)


def load_wikitext2_articles(
    split: str = "valid", data_dir: str | os.PathLike | None = None
) -> list[list[str]]:
    """The articles of a WikiText-2 split, each a list of paragraphs (detokenized strings).

    An article starts at its ` = Title = ` line; section headings and empty
    lines are dropped. Only the validation (60 articles) and test (60
    articles) splits are used here. The file is looked up by
    `resolve_data_file`: `data_dir`, then `KT_DATA_DIR`, then a
    checksummed download cache.

    Args:
        split: `"valid"` or `"test"`.
        data_dir: optional folder holding `wikitext2/{split}.txt`.

    Example:
    >>> import os
    >>> articles = load_wikitext2_articles("valid", os.environ["KT_DATA_DIR"])
    >>> len(articles), articles[0][0][:35]
    (60, 'Homarus gammarus, known as the Euro')
    """
    if split not in SHA256:
        raise ValueError(f"`split` must be one of {sorted(SHA256)}; got {split!r}.")
    path = resolve_data_file(
        f"wikitext2/{split}.txt", origin=ORIGIN.format(split), sha256=SHA256[split],
        data_dir=data_dir,
    )
    lines = path.read_text(encoding="utf-8").splitlines()
    articles: list[list[str]] = []
    for i, line in enumerate(lines):
        # A title stands between blank lines; a formula such as " = 1 k = "
        # in running text looks like one but does not.
        alone = (i == 0 or not lines[i - 1].strip()) and (i + 1 == len(lines) or not lines[i + 1].strip())
        if TITLE.match(line) and alone:
            articles.append([])
        elif line.strip() and not SECTION.match(line) and articles:
            articles[-1].append(detokenize(line))
    return [article for article in articles if article]
