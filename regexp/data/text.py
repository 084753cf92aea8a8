"""Text as token ids: read (a csv column, or a folder of .txt files with one sub-folder per class),
then, after the split, Keras's TextVectorization adapted on the train part only, so a word that only
val or test holds is out of vocabulary (id 1) there, as it would be for new text. Id 0 pads.

The ids are the model's inputs (an embedding first); the vocabulary goes with the run in
Prepared.vocabulary.
"""

from pathlib import Path

import numpy as np

from regexp.data.table import read_frame
from regexp.spec import LoadedSpec

TEXT_SUFFIXES = {".txt", ".text", ".md"}


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
        for file in sorted((root / label).iterdir()):
            if file.suffix.lower() in TEXT_SUFFIXES:
                texts.append(file.read_text(encoding="utf-8", errors="replace"))
                labels.append(label)
    if not texts:
        raise loaded.error(key, f"{root} holds no text files ({', '.join(sorted(TEXT_SUFFIXES))})")
    return np.array(texts, dtype=object), np.array(labels)


def vectorize(train: np.ndarray, others: list[np.ndarray], max_tokens: int, length: int
              ) -> tuple[np.ndarray, list[np.ndarray], list[str]]:
    """Token ids (float32, (N, length)) of the train texts and of each other part, and the vocabulary
    (index = id: '' padding, '[UNK]' out of vocabulary, then the train part's words by count)."""
    import keras

    layer = keras.layers.TextVectorization(max_tokens=max_tokens, output_sequence_length=length)
    layer.adapt(train.astype(str))  # the train part only: val and test words it never saw map to [UNK]

    def ids(texts: np.ndarray) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, length), np.float32)
        return np.asarray(layer(texts.astype(str)), dtype=np.float32)
    return ids(train), [ids(part) for part in others], [str(word) for word in layer.get_vocabulary()]
