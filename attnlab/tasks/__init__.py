"""The book's small trained models: for each task, its data, its model(s) and how it is trained.

One module per task. Chapters import them (``from attnlab.tasks import lookup``); so does the seed report
(``benchmarks/seeds.py``), which trains every model from several seeds and checks the chapters' claims.
Every task here has a known right attention pattern, so a chapter can check what its model learned.
"""
