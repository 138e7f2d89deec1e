"""Build-time generators: the shipped preference data (`datagen`) and the tiny body's warm-up corpus (`corpus`).

Imported only when the data or the body corpus are (re)generated (`python -m nbhelpers datagen`,
`python -m nbhelpers body --rebuild`, tests); never by the scoring/training runtime.
"""
