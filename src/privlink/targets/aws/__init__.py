"""The aws target: one gateway to AWS, a change-set deployer, and the steps CloudFormation cannot do."""
