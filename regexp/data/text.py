"""Text as token ids: read (a csv column, or a folder of .txt files with one sub-folder per class),
then, after the split, Keras's TextVectorization adapted on the train part only, so a word that only
val or test holds is out of vocabulary (id 1) there, as it would be for new text. Id 0 pads.

The ids are the model's inputs (an embedding first); the vocabulary goes with the run in
Prepared.vocabulary and into the run folder's vocabulary.txt, through which `regexp predict` reads
new text.
"""

from pathlib import Path

import numpy as np

from regexp.data.table import TableProblems, read_frame
from regexp.spec import LoadedSpec

TEXT_SUFFIXES = {".txt", ".text", ".md"}
# In the run folder: one word a line, line k holding id k + 2 (0 pads, 1 is out of vocabulary), which is
# the vocabulary file TextVectorization(vocabulary=path) reads.
VOCABULARY_FILE = "vocabulary.txt"


def read_texts(loaded: LoadedSpec, path: Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(texts (N,) object array, labels (N,)) of data.path, as data.text says."""
    column = loaded.spec.data.text.column
    if path.is_dir():
        if column is not None:
            raise loaded.error("data.text.column", f"{path.name} is a folder of text files: drop column")
        return _text_folder(loaded, path, key)
    if column is None:
        raise loaded.error("data.text.column", f"name the column of {path.name} that holds the text")
    frame, _, _ = read_frame(path, loaded.spec.data.sep, ())
    names = [str(n) for n in frame.columns]
    target = loaded.spec.data.target or next((n for n in reversed(names) if n != column), None)
    for wanted, where in ((column, "data.text.column"), (target, "data.target")):
        if wanted not in names:
            raise loaded.error(where, f"no column {wanted!r} in {path.name} (its columns: {', '.join(names)})")
    return frame[column].astype(str).to_numpy(dtype=object), frame[target].to_numpy()


def _text_folder(loaded: LoadedSpec, root: Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise loaded.error(key, f"{root} needs one sub-folder of text files per class (found {len(classes)})")
    texts, labels = [], []
    for label in classes:
        files = _text_files(root / label)
        texts += _read(files)
        labels += [label] * len(files)
    if not texts:
        raise loaded.error(key, f"{root} holds no text files ({', '.join(sorted(TEXT_SUFFIXES))})")
    return np.array(texts, dtype=object), np.array(labels)


def _text_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in TEXT_SUFFIXES and p.is_file())


def _read(files: list[Path]) -> list[str]:
    return [file.read_text(encoding="utf-8", errors="replace") for file in files]


def new_texts(path: Path, column: str | None, sep: str) -> tuple[list[str], np.ndarray]:
    """Texts to predict and their row ids: a csv's `column` (ids: row numbers from 0), or every text
    file under a folder (ids: their paths in it). ValueError says what is missing."""
    if path.is_dir():
        files = _text_files(path)
        if not files:
            raise ValueError(f"holds no text files ({', '.join(sorted(TEXT_SUFFIXES))})")
        return [str(file.relative_to(path)) for file in files], np.array(_read(files), dtype=object)
    if column is None:
        raise ValueError("the run read its text from a folder of text files: give a folder")
    try:
        frame, _, _ = read_frame(path, sep, ())
    except TableProblems as exc:
        raise ValueError("; ".join(p.message for p in exc.problems)) from None
    if column not in frame.columns:
        raise ValueError(f"no column {column!r}, which the run read its text from (its columns: "
                         f"{', '.join(map(str, frame.columns))})")
    return [str(i) for i in range(len(frame))], frame[column].astype(str).to_numpy(dtype=object)


def vectorize(train: np.ndarray, others: list[np.ndarray], max_tokens: int, length: int
              ) -> tuple[np.ndarray, list[np.ndarray], list[str]]:
    """Token ids (float32, (N, length)) of the train texts and of each other part, and the vocabulary
    (index = id: '' padding, '[UNK]' out of vocabulary, then the train part's words by count)."""
    import keras

    layer = keras.layers.TextVectorization(max_tokens=max_tokens, output_sequence_length=length)
    layer.adapt(train.astype(str))  # the train part only: val and test words it never saw map to [UNK]
    return _ids(layer, train, length), [_ids(layer, part, length) for part in others], [
        str(word) for word in layer.get_vocabulary()]


def token_ids(texts: np.ndarray, words: list[str], length: int) -> np.ndarray:
    """Texts as token ids through a fitted vocabulary (`words`: ids 2 on, as vocabulary.txt holds them):
    a word it lacks is id 1, as in the run's own val and test parts."""
    import keras

    return _ids(keras.layers.TextVectorization(vocabulary=words, output_sequence_length=length), texts, length)


def _ids(layer, texts: np.ndarray, length: int) -> np.ndarray:
    if len(texts) == 0:
        return np.zeros((0, length), np.float32)
    return np.asarray(layer(texts.astype(str)), dtype=np.float32)


def vocabulary_text(vocabulary: list[str]) -> str:
    """vocabulary.txt's content: the words of a fitted vocabulary (ids 2 on: padding and [UNK] are implied)."""
    return "".join(f"{word}\n" for word in vocabulary[2:])


def read_vocabulary(folder: Path) -> list[str]:
    """vocabulary.txt's words (ids 2 on); OSError when the run has none."""
    return (folder / VOCABULARY_FILE).read_text(encoding="utf-8").split("\n")[:-1]
