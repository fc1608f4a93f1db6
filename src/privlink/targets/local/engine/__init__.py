"""The sandbox's control plane: interprets rendered CloudFormation templates into the world."""
