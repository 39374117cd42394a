"""Model table: the config's ``model.name`` is a key here."""
from .cyclegan import CycleGANModel

MODELS = {"CycleGANModel": CycleGANModel}
