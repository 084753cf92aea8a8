"""What the commands show, all in one place: each view takes a library result and returns a rich
renderable or text (Markdown, CSV, JSON, HTML). Views compute nothing a user could rely on: the
numbers come from the library; a view only lays them out. No TensorFlow here.
"""
