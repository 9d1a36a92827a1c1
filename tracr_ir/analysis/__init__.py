"""Program analyses shared by the rasp analysis passes and the lowering: facts about values
(never None, one value per query, ...), witness search, and selector normal forms."""
