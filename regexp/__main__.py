from regexp.cli import app

app(prog_name="regexp")
