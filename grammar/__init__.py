"""The Lark grammar of the .seq language, shipped as package data."""
