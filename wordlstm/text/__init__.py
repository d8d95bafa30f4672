"""Reading a text: files and zips, the book's tokenizer, the vocabulary, the corpus and its windows.

Imports nothing from the other stages."""
