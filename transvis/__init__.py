"""transvis: which pre-trained model should I fine-tune for my dataset, and why?

UI-free library: data -> features -> store -> metrics -> dynamics -> viz. See ``DESIGN.md``.
"""

__version__ = "0.1.0"
