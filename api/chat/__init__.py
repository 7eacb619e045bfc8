"""Natural-language operations: tools, personas, sessions and the chat loop."""
